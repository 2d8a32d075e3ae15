// Command ferretdb-datalake runs FerretDB v1 (SQLite backend) for the local stack.
//
// It wraps the embeddable package because `go install .../cmd/ferretdb` builds a
// binary that panics at start-up (its version.txt is generated at release time).
//
// SQLite, not PostgreSQL: the PostgreSQL backend deadlocked under our tests
// (createIndexes holds the metadata lock while it waits for a pooled connection that
// never comes back; seen three times, with a pool of 50 and of 150).
//
// v1.24's SQLite backend indexes `_id` as `sjson->"_id"` but looks it up as
// `sjson->'$._id'`, so SQLite's planner never uses that index: every find, update and
// delete by `_id` scans the collection (a replace grew from 3 to 14 ms over 300
// records). The fix a DBA would make, the one reported for the PostgreSQL backend in
// FerretDB#4646, is the index on the expression the queries use; indexIDs below keeps
// it on every collection table, including the ones created later.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite"
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
	go indexIDs(ctx, *dataDir, 250*time.Millisecond)
	log.Printf("ferretdb listening on %s, data in %s", *listen, *dataDir)
	if err := f.Run(ctx); err != nil {
		log.Fatal(err)
	}
}

// idIndexSQL is the index on the very expression FerretDB's SQLite backend filters `_id` by.
const idIndexSQL = `CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`

// indexIDs polls the data directory and gives every collection table its `_id`
// lookup index. A database file is looked at again only when it (or its WAL) changed,
// and is opened per pass (never kept open: a dropped database's file is deleted).
func indexIDs(ctx context.Context, dir string, every time.Duration) {
	seen := map[string]time.Time{}
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			changed := modTime(file)
			if wal := modTime(file + "-wal"); wal.After(changed) {
				changed = wal
			}
			if !changed.After(seen[file]) {
				continue
			}
			if err := indexFile(ctx, file); err != nil {
				if ctx.Err() == nil {
					log.Printf("_id index for %s: %v (retrying)", filepath.Base(file), err)
				}
				continue
			}
			seen[file] = changed
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(every):
		}
	}
}

func modTime(path string) time.Time {
	info, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return info.ModTime()
}

func indexFile(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, `SELECT t.table_name FROM _ferretdb_collections t
		WHERE NOT EXISTS (SELECT 1 FROM sqlite_master i
		                  WHERE i.type = 'index' AND i.tbl_name = t.table_name AND i.name = t.table_name || '__id_lookup')`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return nil // a database being created: its metadata table comes next
		}
		return err
	}
	var tables []string
	for rows.Next() {
		var table string
		if err := rows.Scan(&table); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, table)
	}
	rows.Close()
	for _, table := range tables {
		if _, err := db.ExecContext(ctx, fmt.Sprintf(idIndexSQL, table+"__id_lookup", table)); err != nil {
			if strings.Contains(err.Error(), "no such table") {
				continue // dropped meanwhile
			}
			return err
		}
	}
	return nil
}
