"""Sources that bring readings into Kafka: the ThingSpeak connector."""
