package spirecmd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"

	"homeworld.dev/homeworld/internal/config"
	"homeworld.dev/homeworld/internal/configschema"
	"homeworld.dev/homeworld/internal/workspace"
)

func (a *app) configCommand() *cobra.Command {
	return group("config", "Create, edit and check the cluster description (setup.yaml)",
		a.configPopulateCommand(),
		a.configEditCommand(),
		a.configCheckCommand(),
		a.configShowCommand(),
		a.configSchemaCommand(),
	)
}

func (a *app) configPopulateCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "populate",
		Short: "Write a commented example setup.yaml into the workspace",
		Long: `Write a commented example setup.yaml into the workspace, creating the
workspace folder (private to you) if needed. It never replaces an existing
setup.yaml. Edit the result with 'spire config edit'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir, err := workspace.Resolve(a.dirFlag, a.getenv)
			if err != nil {
				return err
			}
			ws, err := workspace.Create(dir)
			if err != nil {
				return err
			}
			path := ws.SetupPath()
			if _, err := os.Stat(path); err == nil {
				return fmt.Errorf("%s already exists; edit it with `spire config edit`", path)
			}
			if err := renameio.WriteFile(path, config.Template, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "wrote example %s\nnext: describe your cluster with `spire config edit`\n", path)
			return nil
		},
	}
}

func (a *app) configCheckCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate setup.yaml, reporting every problem with its line",
		Long: `Validate a setup.yaml: the workspace's, or FILE if given. Every problem is
reported at once, each as FILE:LINE:COLUMN: FIELD: MESSAGE. Warnings (such as an
even number of masters) are printed but do not fail the check.`,
		Example: `  spire config check
  spire config check ./new-setup.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var path string
			if len(args) == 1 {
				path = args[0]
			} else {
				ws, err := a.workspace()
				if err != nil {
					return err
				}
				path = ws.SetupPath()
			}
			cfg, warnings, err := config.Load(path)
			a.printWarnings(warnings)
			if err != nil {
				return err
			}
			fmt.Fprintf(a.Stdout, "%s: valid: %d supervisor, %d master(s), %d worker(s)\n", path,
				len(cfg.NodesOf(config.KindSupervisor)), len(cfg.NodesOf(config.KindMaster)), len(cfg.NodesOf(config.KindWorker)))
			return nil
		},
	}
}

func (a *app) configShowCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "show",
		Short: "Print the validated setup.yaml in normalized form",
		Long: `Print the workspace's setup.yaml after validation, normalized: canonical key
order, comments removed, empty optional fields left out.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, cfg, err := a.workspaceConfig()
			if err != nil {
				return err
			}
			var out []byte
			if asJSON {
				out, err = config.MarshalJSON(cfg)
			} else {
				out, err = config.Marshal(cfg)
			}
			if err != nil {
				return err
			}
			_, err = a.Stdout.Write(out)
			return err
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON instead of YAML")
	return c
}

func (a *app) configSchemaCommand() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of setup.yaml (for editors)",
		Long: `Print the JSON Schema of setup.yaml, generated from the same definitions spire
validates with. Editors with YAML language support can use it; the repository
ships a copy at schema/setup.schema.json.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			schema, err := configschema.Generate()
			if err != nil {
				return err
			}
			if output == "" {
				_, err = a.Stdout.Write(schema)
				return err
			}
			if err := os.MkdirAll(filepath.Dir(output), 0o755); err != nil {
				return err
			}
			return renameio.WriteFile(output, schema, 0o644)
		},
	}
	c.Flags().StringVarP(&output, "output", "o", "", "write to this file instead of standard output")
	return c
}

// errInvalidEdit is returned when the editor's result is not saved.
var errInvalidEdit = errors.New("setup.yaml was not changed")
