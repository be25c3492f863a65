// Package sqlite is duroxide's embedded store: a provider.Provider (with the
// Admin, SessionRenewer and Notifier capabilities) on one SQLite database
// file, or on a private in-memory database. Nothing to install; many runtime
// processes on one machine may share one file.
//
// # Why it is built this way
//
// The cost of a durable store is its commit rate: every turn of every
// orchestration ends in one atomic commit, and a commit on a file database
// is an fsync. So every write — fetch (which takes a lock), ack, abandon,
// renew, enqueue, delete, prune — is a function handed to ONE writer
// goroutine. The writer drains whatever requests are pending and runs them
// in a single BEGIN IMMEDIATE … COMMIT, each inside its own SAVEPOINT, so a
// failing request rolls back alone and gets its own error while one fsync
// serves every other request of the batch (group commit). Reads use a pool
// of reader connections; WAL lets them run beside the writer.
//
// Fetches long-poll. A write in this process that makes work visible
// wakes waiting fetchers at once. A background watcher wakes them when a
// delayed message, a lock or a session expires (it keeps the next such time
// from cheap indexed MIN queries), and notices writes by other processes
// sharing the file through PRAGMA data_version, a counter SQLite keeps in
// shared memory: reading it (every Options.WatchInterval) costs no table
// access. A waiting fetcher costs nothing until one of these events: with
// no work, the store runs only those reads and a few indexed MIN queries
// per Options.PollInterval, however many fetchers wait, and never takes
// the write lock (a fetch peeks on a reader before it writes).
//
// Messages for an instance that does not exist and has no start message in
// its queue are skipped by fetches (they never block other instances) and,
// after Options.DeadLetterAfter, moved to the dead_letters table with the
// reason. A queue row that cannot be decoded is dead-lettered at once.
//
// DSNs: "sqlite:./path.db", "sqlite:/abs/path.db", "sqlite::memory:" (a
// private in-memory database per Open) or a bare path.
package sqlite
