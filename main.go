// Command parley is the conversation log for AI assistants. `parley` with no argument runs
// web, workers and scheduler in one process on the embedded defaults; `parley --help` lists
// the subcommands and the environment variables.
package main

import (
	"os"

	"github.com/parleyhq/parley/app/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], nil))
}
