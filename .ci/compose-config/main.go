// compose-config loads a Compose file the way `docker compose config` does
// (compose-spec/compose-go: interpolation, the Compose JSON schema, service
// references) and says whether it is valid. It stands in for
// `docker compose config` on machines without the Docker Compose plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: compose-config FILE...")
		os.Exit(2)
	}
	options, err := cli.NewProjectOptions(
		os.Args[1:], cli.WithOsEnv, cli.WithDotEnv, cli.WithName("vitalstream"),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf(
		"%s: valid, services: %s\n",
		strings.Join(os.Args[1:], " "), strings.Join(project.ServiceNames(), ", "),
	)
}
