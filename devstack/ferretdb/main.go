// Command ferretdb-datalake runs FerretDB v1 over the stack's PostgreSQL for the local stack.
//
// It wraps the embeddable package because `go install .../cmd/ferretdb` builds a
// binary that panics at start-up (its version.txt is generated at release time).
//
// PostgreSQL, not SQLite: FerretDB v1.24's SQLite backend indexes `_id` as
// `sjson->"_id"` but looks it up as `sjson->'$._id'`, which SQLite cannot match to the
// index, so every find, update and delete by `_id` scans the collection (measured:
// a replace by `_id` grew from 2 to 14 ms over 300 records). The PostgreSQL backend
// uses its `_id` index (flat at about 2 ms), and it is FerretDB's main backend.
//
// The PostgreSQL URL (it holds a password) comes from FERRETDB_POSTGRESQL_URL, never argv.
package main

import (
	"context"
	"flag"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:27018", "TCP address to listen on")
	flag.Parse()

	url := os.Getenv("FERRETDB_POSTGRESQL_URL")
	if url == "" {
		log.Fatal("FERRETDB_POSTGRESQL_URL is not set (postgres://user:password@host:port/database)")
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:      ferretdb.ListenerConfig{TCP: *listen},
		Logger:        slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Handler:       "postgresql",
		PostgreSQLURL: url,
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Printf("ferretdb listening on %s (PostgreSQL backend)", *listen)
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
