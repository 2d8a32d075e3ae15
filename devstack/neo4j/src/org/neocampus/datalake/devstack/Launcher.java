package org.neocampus.datalake.devstack;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.BoltConnectorInternalSettings;
import org.neo4j.cli.ExecutionContext;
import org.neo4j.commandline.admin.security.SetInitialPasswordCommand;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.graphdb.QueryExecutionException;
import org.neo4j.io.ByteUnit;
import picocli.CommandLine;

/**
 * The local stack's Neo4j Community server: the embedded DBMS with its Bolt connector on loopback.
 *
 * <p>Usage: {@code Launcher HOME HOST BOLT_PORT}; the password of user {@code neo4j} comes from the
 * environment variable {@code NEO4J_PASSWORD} (never argv: it would show in {@code ps}). On the first
 * start it is the initial password, written before Bolt listens (what {@code neo4j-admin dbms
 * set-initial-password} does), so no one can log in with the default one meanwhile; on later starts it
 * is set again (no change required), so a stack's {@code secrets.json} stays the one truth.
 * Bolt only: no HTTP connector, no server-side routing, no usage report. SIGTERM shuts the DBMS down
 * cleanly through a shutdown hook.
 */
public final class Launcher {
  private Launcher() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 3) {
      System.err.println("usage: Launcher HOME HOST BOLT_PORT (password in $NEO4J_PASSWORD)");
      System.exit(2);
    }
    Path home = Path.of(args[0]).toAbsolutePath();
    String host = args[1];
    int boltPort = Integer.parseInt(args[2]);
    String password = System.getenv("NEO4J_PASSWORD");
    if (password == null || password.length() < 8) {
      System.err.println("NEO4J_PASSWORD is not set (at least 8 characters)");
      System.exit(2);
    }
    Files.createDirectories(home);
    boolean fresh = !Files.isDirectory(home.resolve("data").resolve("databases").resolve("system"));
    if (fresh) {
      setInitialPassword(home, password);
    }

    DatabaseManagementService dbms =
        new DatabaseManagementServiceBuilder(home)
            .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress(host))
            .setConfig(BoltConnector.enabled, true)
            .setConfig(BoltConnector.listen_address, new SocketAddress(host, boltPort))
            .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
            .setConfig(GraphDatabaseSettings.routing_enabled, false)
            // Bolt waits 5 s twice by default at shutdown; a dev server stops in about a second.
            .setConfig(BoltConnectorInternalSettings.connection_shutdown_wait_time, Duration.ofMillis(500))
            .setConfig(BoltConnectorInternalSettings.thread_pool_shutdown_wait_time, Duration.ofMillis(500))
            .setConfig(GraphDatabaseSettings.auth_enabled, true)
            .setConfig(GraphDatabaseSettings.udc_enabled, false)
            .setConfig(GraphDatabaseSettings.pagecache_memory, ByteUnit.mebiBytes(64))
            .setConfig(GraphDatabaseSettings.keep_logical_logs, "1 files")
            .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, ByteUnit.mebiBytes(64))
            .build();

    CountDownLatch stopped = new CountDownLatch(1);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  System.out.println("neo4j: shutting down");
                  dbms.shutdown();
                  stopped.countDown();
                },
                "neo4j-shutdown"));

    if (!fresh) {
      try {
        setPassword(dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME), password);
      } catch (RuntimeException e) {
        e.printStackTrace();
        System.exit(1); // the shutdown hook stops the DBMS: no server whose password is not ours
      }
    }
    System.out.println("neo4j: bolt on " + host + ":" + boltPort + ", home " + home);
    stopped.await();
  }

  /** neo4j-admin's own command: data/dbms/auth.ini, read when the system database is created. */
  private static void setInitialPassword(Path home, String password) {
    ExecutionContext context = new ExecutionContext(home, home.resolve("conf"));
    // "--" ends the options: a generated password may start with "-" (token_urlsafe does, 1 time in 64)
    int status = new CommandLine(new SetInitialPasswordCommand(context)).execute("--", password);
    if (status != 0) {
      throw new IllegalStateException("set-initial-password failed with status " + status);
    }
  }

  /** Embedded code runs with full rights on the system database, so it can set the password. */
  private static void setPassword(GraphDatabaseService system, String password) {
    try {
      system.executeTransactionally(
          "ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED", Map.of("password", password));
    } catch (QueryExecutionException e) {
      // Neo4j refuses to "change" a password to the one it already has: that is the state we want.
      if (!String.valueOf(e.getMessage()).contains("Old password and new password cannot be the same")) {
        throw e;
      }
    }
  }
}
