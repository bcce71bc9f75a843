package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

func versionCmd(version string) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the netlens version",
		Long: `version prints the netlens version.

Exit status: 0 on success; 1 when the output cannot be written; 2 for
invalid flags or arguments.`,
		Args: noArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintf(cmd.OutOrStdout(), "netlens %s\n", version)
		},
	}
}
