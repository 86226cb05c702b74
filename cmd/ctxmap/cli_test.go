package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/ctxmap/ctxmap/contexts/postgres"
)

func runCLI(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := Run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

var tokenLine = regexp.MustCompile(`token \(shown once, store it now\): (ctxm_\S+)`)

// addUser runs `ctxmap users add` with args (stdin for --password-stdin)
// and returns the token it printed.
func addUser(t *testing.T, stdin string, args ...string) string {
	t.Helper()
	out, err := runCLI(t, stdin, append([]string{"users", "add"}, args...)...)
	if err != nil {
		t.Fatalf("users add: %v\n%s", err, out)
	}
	m := tokenLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("users add printed no token:\n%s", out)
	}
	return m[1]
}

func TestUsersCommands(t *testing.T) {
	ts := startServer(t)
	db := "--database-url=" + ts.DBURL
	token := addUser(t, "a long enough password\n", db, "--name", "cli-analyst", "--role", "analyst", "--team", "Insight", "--password-stdin")
	get := func(tok string) int {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get(token); got != 200 {
		t.Fatalf("new token: %d", got)
	}
	var stored int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_tokens WHERE token_hash = sha256(convert_to($1, 'UTF8'))`, token).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("token not stored as its hash: n=%d err=%v", stored, err)
	}
	var plain int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM api_tokens WHERE encode(token_hash, 'escape') LIKE '%' || $1 || '%'`, token[5:20]).Scan(&plain); err != nil || plain != 0 {
		t.Fatalf("token stored in plain text: n=%d err=%v", plain, err)
	}

	if out, err := runCLI(t, "", "users", "add", db, "--name", "cli-analyst", "--role", "analyst", "--team", "Insight"); err == nil {
		t.Fatalf("duplicate user accepted:\n%s", out)
	}
	if out, err := runCLI(t, "", "users", "add", db, "--name", "x", "--role", "superuser", "--team", "T"); err == nil {
		t.Fatalf("unknown role accepted:\n%s", out)
	}
	out, err := runCLI(t, "", "users", "list", db)
	if err != nil || !strings.Contains(out, "cli-analyst") || !strings.Contains(out, "Insight") {
		t.Fatalf("users list: %v\n%s", err, out)
	}
	if out, err := runCLI(t, "short\n", "users", "set-password", db, "cli-analyst"); err == nil {
		t.Fatalf("short password accepted:\n%s", out)
	}
	if out, err := runCLI(t, "another long password\n", "users", "set-password", db, "cli-analyst"); err != nil {
		t.Fatalf("set-password: %v\n%s", err, out)
	}
	if _, err := postgres.NewUsers(ts.Pool).CheckPassword(context.Background(), "cli-analyst", "another long password"); err != nil {
		t.Fatalf("new password does not work: %v", err)
	}
	if out, err := runCLI(t, "", "users", "disable", db, "cli-analyst"); err != nil {
		t.Fatalf("disable: %v\n%s", err, out)
	}
	// The server caches tokens for a minute; a fresh server must refuse it.
	if _, err := postgres.NewUsers(ts.Pool).TokenActor(context.Background(), token); err == nil {
		t.Fatal("disabled user's token still valid")
	}
	if _, err := postgres.NewUsers(ts.Pool).CheckPassword(context.Background(), "cli-analyst", "another long password"); err == nil {
		t.Fatal("disabled user can still sign in")
	}
	if out, err := runCLI(t, "", "version"); err != nil || !strings.HasPrefix(out, "ctxmap ") {
		t.Fatalf("version: %v %q", err, out)
	}
	if out, err := runCLI(t, "", "migrate", "status", db); err != nil || !strings.Contains(out, "00001_foundation.sql") {
		t.Fatalf("migrate status: %v\n%s", err, out)
	}
}

func TestImportHarmLocationsCommand(t *testing.T) {
	ts := startServer(t)
	dir := t.TempDir()
	file := dir + "/harm.csv"
	month := recentMonth()
	csv := "subject,categories,familial,layer,occurred,source,location_type,lat,lon\n" +
		"CLI-1,cse,extra,harm," + month + ",referral,park,51.545,-0.055\n" +
		"CLI-2,cse;cce,extra,unsafe," + month + ",safety_map,bus_stop,51.546,-0.056\n"
	if err := os.WriteFile(file, []byte(csv), 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"import", "harm-locations", "--database-url=" + ts.DBURL, "--secret=" + testSecret}
	if out, err := runCLI(t, "", append(args, "--as", "nobody", file)...); err == nil {
		t.Fatalf("import as an unknown user succeeded:\n%s", out)
	}
	out, err := runCLI(t, "", append(args, "--as", "test-practitioner", file)...)
	if err != nil || !strings.Contains(out, "imported 2 harm locations") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	var n int
	if err := ts.Pool.QueryRow(context.Background(), `SELECT count(*) FROM harm_locations h JOIN users u ON u.id = h.created_by WHERE u.name = 'test-practitioner'`).Scan(&n); err != nil || n != 2 {
		t.Fatalf("rows by test-practitioner: n=%d err=%v", n, err)
	}
}
