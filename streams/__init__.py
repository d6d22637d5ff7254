"""Stream stages on Kafka: the anonymiser (Faust) and the authorised consumer."""
