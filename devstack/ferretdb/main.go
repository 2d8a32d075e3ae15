// Command ferretdb-datalake runs FerretDB v1 (SQLite backend) for the local stack.
//
// It wraps the embeddable package because `go install .../cmd/ferretdb` builds a
// binary that panics at start-up (its version.txt is generated at release time).
//
// SQLite, not PostgreSQL, although SQLite is slower for us: v1.24's SQLite backend
// indexes `_id` as `sjson->"_id"` but looks it up as `sjson->'$._id'`, so every
// find, update and delete by `_id` scans the collection (a replace grew from 2 to
// 14 ms over 300 records). The PostgreSQL backend uses its index (flat at about
// 2 ms) but deadlocked under our tests: createIndexes holds the metadata lock while
// it waits for a pooled connection that never comes back (seen three times, with a
// pool of 50 and of 150; every other request then waits on that lock).
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
	dataDir := flag.String("data", "data", "directory of the SQLite databases")
	flag.Parse()

	if err := os.MkdirAll(*dataDir, 0o700); err != nil {
		log.Fatal(err)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + *dataDir + "/",
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log.Printf("ferretdb listening on %s, data in %s", *listen, *dataDir)
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}
