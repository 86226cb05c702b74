package pgtest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Cluster is a PostgreSQL server of one test's own, in t.TempDir(), for fault
// tests that stop or crash the server: doing that to the shared test cluster
// would break every other test package running at the same time. It listens
// on a Unix socket in its directory only and runs with the durability settings
// scripts/pg.sh gives the real cluster (synchronous_commit and fsync on).
type Cluster struct {
	bin  string
	dir  string // owns data/, server.log and the socket
	port int
	root bool // run the binaries as the postgres system user
	url  string
}

// NewCluster initialises, starts and returns a throw-away cluster with a
// database "ctxmap" that has PostGIS; it is stopped when the test ends. Extra
// settings ("name=value") go to the server's command line. Without the system
// PostgreSQL binaries the test skips locally and fails under CI=true.
func NewCluster(t testing.TB, settings ...string) *Cluster {
	t.Helper()
	bin := systemBinaries()
	if bin == "" {
		if os.Getenv("CI") != "" && os.Getenv("CI") != "false" {
			t.Fatalf("no PostgreSQL binaries under /usr/lib/postgresql/*/bin and CI=%s: the fault tests must run in CI (scripts/pg.sh start installs them)", os.Getenv("CI"))
		}
		t.Skip("no PostgreSQL binaries under /usr/lib/postgresql/*/bin; run `bash scripts/pg.sh start` once")
	}
	c := &Cluster{bin: bin, dir: t.TempDir(), root: os.Geteuid() == 0}
	if c.root {
		// PostgreSQL refuses to run as root: the postgres system user owns the
		// directory and may pass through its parent (t.TempDir's own, 0700).
		if err := os.Chmod(filepath.Dir(c.dir), 0o711); err != nil {
			t.Fatal(err)
		}
	}
	// The socket path (dir + "/.s.PGSQL.NNNNN") must stay under ~107 bytes.
	if len(c.dir) > 80 {
		d, err := os.MkdirTemp("", "pgc")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		c.dir = d
	}
	if c.root {
		if err := chownToPostgres(c.dir); err != nil {
			t.Fatalf("pgtest: %v", err)
		}
	}
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	c.port = port
	c.url = fmt.Sprintf("host=%s port=%d user=postgres dbname=ctxmap sslmode=disable", c.dir, c.port)
	data := filepath.Join(c.dir, "data")
	// --no-sync only skips flushing initdb's own files: the fault tests crash
	// PostgreSQL, not the machine, and the server itself runs durable.
	if out, err := c.run("initdb", "-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"); err != nil {
		t.Fatalf("pgtest: initdb: %v\n%s", err, out)
	}
	conf := "\n# pgtest.Cluster: socket only, durable.\nlisten_addresses = ''\nsynchronous_commit = on\nfsync = on\nmax_parallel_workers_per_gather = 0\n"
	for _, s := range settings {
		k, v, ok := strings.Cut(s, "=")
		if !ok {
			t.Fatalf("pgtest: setting %q is not name=value", s)
		}
		conf += strings.TrimSpace(k) + " = '" + strings.ReplaceAll(strings.TrimSpace(v), "'", "''") + "'\n"
	}
	if out, err := c.appendConf(filepath.Join(data, "postgresql.conf"), conf); err != nil {
		t.Fatalf("pgtest: write postgresql.conf: %v\n%s", err, out)
	}
	t.Cleanup(func() { _ = c.Stop() })
	if err := c.Start(); err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	admin := fmt.Sprintf("host=%s port=%d user=postgres dbname=postgres sslmode=disable", c.dir, c.port)
	if err := adminExec(ctx, admin, "CREATE DATABASE ctxmap"); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	if err := adminExec(ctx, c.url, "CREATE EXTENSION postgis"); err != nil {
		t.Fatalf("pgtest: create extension postgis: %v", err)
	}
	return c
}

// URL is the keyword/value connection string of the cluster's "ctxmap"
// database, for pg.Connect or the ctxmap command's --database-url.
func (c *Cluster) URL() string { return c.url }

// Start starts the server (again) and waits until it accepts connections;
// after a Crash this is where PostgreSQL replays its write-ahead log.
func (c *Cluster) Start() error {
	out, err := c.run("pg_ctl", "-D", filepath.Join(c.dir, "data"), "-l", filepath.Join(c.dir, "server.log"),
		"-w", "-t", "60", "-o", fmt.Sprintf("-p %d -k %s", c.port, c.dir), "start")
	if err != nil {
		return fmt.Errorf("pg_ctl start: %v\n%s\n%s", err, out, c.serverLog())
	}
	return nil
}

// Stop shuts the server down cleanly (fast mode: sessions are disconnected,
// everything is checkpointed). Stopping a stopped cluster is not an error.
func (c *Cluster) Stop() error { return c.stop("fast") }

// Crash kills the server the way a power cut or an OOM kill would look to
// PostgreSQL: immediate mode, no checkpoint, recovery from the WAL on the next
// Start.
func (c *Cluster) Crash() error { return c.stop("immediate") }

func (c *Cluster) stop(mode string) error {
	data := filepath.Join(c.dir, "data")
	if _, err := c.run("pg_ctl", "-D", data, "status"); err != nil {
		return nil // not running
	}
	if out, err := c.run("pg_ctl", "-D", data, "-w", "-t", "60", "-m", mode, "stop"); err != nil {
		return fmt.Errorf("pg_ctl stop -m %s: %v\n%s", mode, err, out)
	}
	return nil
}

// run runs one of the PostgreSQL binaries, as the postgres user when we are root.
func (c *Cluster) run(name string, args ...string) ([]byte, error) {
	path := filepath.Join(c.bin, name)
	var cmd *exec.Cmd
	if c.root {
		cmd = exec.Command("runuser", append([]string{"-u", "postgres", "--", path}, args...)...)
	} else {
		cmd = exec.Command(path, args...)
	}
	cmd.Env = append(os.Environ(), "LC_ALL=C.UTF-8")
	return cmd.CombinedOutput()
}

// appendConf appends to postgresql.conf as the file's owner.
func (c *Cluster) appendConf(path, text string) ([]byte, error) {
	if !c.root {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return nil, err
		}
		if _, err := f.WriteString(text); err != nil {
			f.Close()
			return nil, err
		}
		return nil, f.Close()
	}
	cmd := exec.Command("runuser", "-u", "postgres", "--", "tee", "-a", path)
	cmd.Stdin = strings.NewReader(text)
	return cmd.CombinedOutput()
}

func (c *Cluster) serverLog() string {
	b, _ := os.ReadFile(filepath.Join(c.dir, "server.log"))
	return string(b)
}

// systemBinaries finds the newest /usr/lib/postgresql/<major>/bin with
// initdb, as scripts/pg.sh does.
func systemBinaries() string {
	entries, err := os.ReadDir("/usr/lib/postgresql")
	if err != nil {
		return ""
	}
	var majors []int
	for _, e := range entries {
		if v, err := strconv.Atoi(e.Name()); err == nil {
			majors = append(majors, v)
		}
	}
	sort.Sort(sort.Reverse(sort.IntSlice(majors)))
	for _, v := range majors {
		bin := fmt.Sprintf("/usr/lib/postgresql/%d/bin", v)
		if _, err := os.Stat(filepath.Join(bin, "initdb")); err == nil {
			return bin
		}
	}
	return ""
}

func chownToPostgres(dir string) error {
	u, err := user.Lookup("postgres")
	if err != nil {
		return fmt.Errorf("running as root needs the postgres system user: %w", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return os.Chown(dir, uid, gid)
}

// freePort picks a port number nobody listens on. The cluster has no TCP
// listener, but the number names its socket and shows in pg_stat_activity
// and logs, so a free one keeps it from looking like any other server.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
