package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/ctxmap/ctxmap/contexts"
	"github.com/ctxmap/ctxmap/contexts/postgres"
	"github.com/ctxmap/ctxmap/migrations/pg"
)

// cliActor attributes CLI changes in the audit log to the operator's OS user.
func cliActor() *contexts.Actor {
	name := os.Getenv("USER")
	if name == "" {
		name = "unknown"
	}
	return &contexts.Actor{Name: "cli:" + name}
}

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, c := newFlags("migrate", stderr)
	dropAudit := fs.Bool("drop-audit-log", false, "allow `migrate down` to roll back the migration that holds the audit log (it deletes it)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: ctxmap migrate up|down|status")
		return errUsage
	}
	pool, err := openDB(ctx, c, stderr, pg.Options{})
	if err != nil {
		return err
	}
	defer pool.Close()
	switch fs.Arg(0) {
	case "up":
		n, err := pg.Up(ctx, pool)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "applied %d migration(s)\n", n)
		return nil
	case "down":
		return pg.Down(ctx, pool, pg.DownOptions{DropAuditLog: *dropAudit})
	case "status":
		st, err := pg.Status(ctx, pool)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "VERSION\tAPPLIED\tNAME")
		for _, m := range st {
			at := "pending"
			if m.Applied {
				at = m.AppliedAt.Format("2006-01-02 15:04:05")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, at, m.Name)
		}
		return tw.Flush()
	}
	fmt.Fprintln(stderr, "usage: ctxmap migrate up|down|status")
	return errUsage
}

func runUsers(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: ctxmap users add|list|disable|set-password")
		return errUsage
	}
	sub, args := args[0], args[1:]
	fs, c := newFlags("users "+sub, stderr)
	name := fs.String("name", "", "user name (add)")
	role := fs.String("role", "", "practitioner|context_lead|analyst|admin (add)")
	team := fs.String("team", "", "team name (add)")
	pwStdin := fs.Bool("password-stdin", false, "read a browser password from stdin (add)")
	if err := parseArgs(fs, args); err != nil {
		return err
	}
	pool, err := openDB(ctx, c, stderr, pg.Options{})
	if err != nil {
		return err
	}
	defer pool.Close()
	users := postgres.NewUsers(pool)
	switch sub {
	case "add":
		pw := ""
		if *pwStdin {
			if pw, err = readLine(stdin); err != nil {
				return err
			}
		}
		a, token, err := users.AddUser(ctx, cliActor(), *name, contexts.Role(*role), *team, pw)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "user %s (id %d, role %s, team %s)\ntoken (shown once, store it now): %s\n", a.Name, a.UserID, a.Role, a.Team, token)
		return nil
	case "list":
		list, err := users.ListUsers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tROLE\tTEAM\tPASSWORD\tSSO\tDISABLED")
		for _, u := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%v\t%v\n", u.UserID, u.Name, u.Role, u.Team, u.HasPassword, u.SSO, u.Disabled)
		}
		return tw.Flush()
	case "disable":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: ctxmap users disable NAME: %w", errUsage)
		}
		return users.Disable(ctx, cliActor(), fs.Arg(0))
	case "set-password":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: ctxmap users set-password NAME (password on stdin): %w", errUsage)
		}
		pw, err := readLine(stdin)
		if err != nil {
			return err
		}
		return users.SetPassword(ctx, cliActor(), fs.Arg(0), pw)
	}
	fmt.Fprintln(stderr, "usage: ctxmap users add|list|disable|set-password")
	return errUsage
}

func readLine(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	return strings.TrimRight(line, "\r\n"), nil
}
