package spirecmd

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/google/renameio/v2"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"homeworld.dev/homeworld/internal/config"
)

func (a *app) configEditCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "edit",
		Short: "Edit setup.yaml in your editor; an invalid result is not saved",
		Long: `Open a copy of the workspace's setup.yaml in $VISUAL or $EDITOR (else
sensible-editor, nano or vi). When the editor exits, the copy is validated:
a valid copy replaces setup.yaml atomically; an invalid one is reported with
every problem, and on a terminal you may edit again. An invalid result is
never saved over setup.yaml; it is kept beside it so no edit is lost.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ws, err := a.workspace()
			if err != nil {
				return err
			}
			return a.edit(ws.SetupPath())
		},
	}
}

func (a *app) edit(path string) error {
	orig, err := os.ReadFile(path)
	if err != nil {
		if os.IsNotExist(err) {
			return fmt.Errorf("%s does not exist (create it with `spire config populate`)", path)
		}
		return err
	}
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	draft, err := os.CreateTemp(filepath.Dir(path), ".setup-edit-*.yaml")
	if err != nil {
		return err
	}
	draftPath := draft.Name()
	_, werr := draft.Write(orig)
	if cerr := draft.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		os.Remove(draftPath)
		return werr
	}
	editor := a.editor()
	for {
		if err := a.runEditor(editor, draftPath); err != nil {
			return fmt.Errorf("%w; your edits are kept in %s", err, draftPath)
		}
		edited, err := os.ReadFile(draftPath)
		if err != nil {
			return err
		}
		if bytes.Equal(edited, orig) {
			os.Remove(draftPath)
			fmt.Fprintln(a.Stdout, "no changes")
			return nil
		}
		_, warnings, perr := config.Parse(path, edited)
		if perr == nil {
			a.printWarnings(warnings)
			if err := renameio.WriteFile(path, edited, st.Mode().Perm()); err != nil {
				return err
			}
			os.Remove(draftPath)
			fmt.Fprintf(a.Stdout, "saved %s\n", path)
			return nil
		}
		fmt.Fprintf(a.Stderr, "%v\n", perr)
		if !a.ask("Edit again? [Y/n] ") {
			rejected := path + ".rejected"
			if err := os.Rename(draftPath, rejected); err != nil {
				return err
			}
			return fmt.Errorf("%w: the edited version is invalid; it is kept in %s", errInvalidEdit, rejected)
		}
	}
}

// editor picks the command used to edit files.
func (a *app) editor() string {
	for _, v := range []string{"VISUAL", "EDITOR"} {
		if e := a.getenv(v); e != "" {
			return e
		}
	}
	for _, e := range []string{"sensible-editor", "nano", "vi"} {
		if p, err := exec.LookPath(e); err == nil {
			return p
		}
	}
	return "vi"
}

// runEditor runs the editor through the shell, so settings such as
// EDITOR="code --wait" work.
func (a *app) runEditor(editor, path string) error {
	cmd := exec.Command("/bin/sh", "-c", editor+` "$1"`, "spire-edit", path)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.Stdin, a.Stdout, a.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("editor %q failed: %v", editor, err)
	}
	return nil
}

// ask asks a yes/no question, defaulting to yes; without a terminal on
// standard input it answers no, so scripts never hang.
func (a *app) ask(question string) bool {
	f, ok := a.Stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return false
	}
	fmt.Fprint(a.Stderr, question)
	line, _ := bufio.NewReader(f).ReadString('\n')
	answer := strings.ToLower(strings.TrimSpace(line))
	return answer == "" || answer == "y" || answer == "yes"
}
