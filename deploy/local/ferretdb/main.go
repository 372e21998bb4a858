// Command ferretdb-huying runs FerretDB v1 (SQLite backend) for Huying's local
// development and tests. It is a thin wrapper around the embeddable package
// github.com/FerretDB/FerretDB/ferretdb; deploy/local/infra.py builds and
// starts it. Telemetry is disabled by the embeddable package itself.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to listen on")
	sqliteDir := flag.String("sqlite-dir", "", "directory for SQLite files (created if missing)")
	sqliteURL := flag.String("sqlite-url", "", "SQLite URI such as file:/path/dir/ (overrides -sqlite-dir)")
	logLevel := flag.String("log-level", "info", "log level: debug, info, warn or error")
	flag.Parse()

	logger, err := newLogger(*logLevel)
	if err != nil {
		fail(err)
	}

	uri, err := resolveSQLiteURL(*sqliteURL, *sqliteDir)
	if err != nil {
		fail(err)
	}

	if err := run(logger, *listen, uri); err != nil {
		fail(err)
	}
}

// newLogger returns a text logger on stderr at the named level.
func newLogger(level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("bad -log-level %q: %w", level, err)
	}

	h := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl})

	return slog.New(h), nil
}

// resolveSQLiteURL returns the SQLite URI, creating the directory when a plain
// directory was given. FerretDB requires an existing directory and a trailing slash.
func resolveSQLiteURL(rawURL, dir string) (string, error) {
	if rawURL != "" {
		return rawURL, nil
	}

	if dir == "" {
		return "", fmt.Errorf("one of -sqlite-dir or -sqlite-url is required")
	}

	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}

	if err := os.MkdirAll(abs, 0o755); err != nil {
		return "", err
	}

	return "file:" + strings.TrimSuffix(abs, "/") + "/", nil
}

// run serves until SIGINT or SIGTERM, then closes listeners and the backend.
func run(logger *slog.Logger, listen, sqliteURL string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: listen},
		Logger:    logger,
		Handler:   "sqlite",
		SQLiteURL: sqliteURL,
	})
	if err != nil {
		return err
	}

	// printed whatever the log level, so that the log file always shows start and stop
	fmt.Fprintf(os.Stderr, "ferretdb-huying: FerretDB %s serving %s on %s\n", moduleVersion(), sqliteURL, listen)

	if err := f.Run(ctx); err != nil {
		return err
	}

	fmt.Fprintln(os.Stderr, "ferretdb-huying: stopped")

	return nil
}

// moduleVersion returns the FerretDB module version linked into this binary.
func moduleVersion() string {
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, dep := range info.Deps {
			if dep.Path == "github.com/FerretDB/FerretDB" {
				return dep.Version
			}
		}
	}

	return "(unknown version)"
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ferretdb-huying:", err)
	os.Exit(1)
}
