package postgres

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/duroxide/duroxide/core/history"
	"github.com/duroxide/duroxide/core/provider"
)

// withURL returns dsn (a URL) changed by fn.
func withURL(t *testing.T, dsn string, fn func(u *url.URL)) string {
	t.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		t.Skipf("the test DSN is not a URL: %v", err)
	}
	fn(u)
	return u.String()
}

// Startup errors say what is wrong, never show the password, and are not
// mistaken for transient ones by a caller that retries.
func TestOpenErrors(t *testing.T) {
	dsn := testDSN(t)
	closedPort := freePort(t)
	cases := []struct {
		name string
		dsn  string
		opts *Options
		want []string
	}{
		{"wrong port", withURL(t, dsn, func(u *url.URL) { u.Host = fmt.Sprintf("127.0.0.1:%d", closedPort) }), nil,
			[]string{"cannot connect to the PostgreSQL server at 127.0.0.1:" + fmt.Sprint(closedPort), "is it running"}},
		{"wrong password", withURL(t, dsn, func(u *url.URL) { u.User = url.UserPassword(u.User.Username(), "not-the-password") }), nil,
			[]string{"authentication failed for user", "check the user and password"}},
		{"unknown user", withURL(t, dsn, func(u *url.URL) { u.User = url.UserPassword("no_such_role_dx", "x") }), nil,
			[]string{"authentication failed for user \"no_such_role_dx\""}},
		{"missing database", withURL(t, dsn, func(u *url.URL) { u.Path = "/no_such_database_dx" }), nil,
			[]string{`database "no_such_database_dx" does not exist`}},
		{"bad DSN", "postgres://user:secret-pw@host:notaport/db", nil, []string{"invalid DSN"}},
		{"empty DSN", "  ", nil, []string{"empty DSN"}},
		{"bad schema", dsn, &Options{Schema: `x"; DROP SCHEMA public; --`}, []string{"Options.Schema", "letters, digits and underscores"}},
		{"reserved schema", dsn, &Options{Schema: "pg_catalog"}, []string{"reserved"}},
		{"long schema", dsn, &Options{Schema: strings.Repeat("s", 49)}, []string{"longer than 48"}},
		{"conflicting schemas", withURL(t, dsn, func(u *url.URL) { u.RawQuery += "&schema=one" }), &Options{Schema: "two"},
			[]string{`schema "one"`, `Options.Schema "two"`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(bg0, 20*time.Second)
			defer cancel()
			s, err := Open(ctx, tc.dsn, tc.opts)
			if err == nil {
				s.Close()
				t.Fatalf("Open succeeded")
			}
			msg := err.Error()
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q does not say %q", msg, w)
				}
			}
			for _, secret := range []string{"not-the-password", "secret-pw", "duroxide_test@"} {
				if strings.Contains(msg, secret) && !strings.Contains(tc.dsn, "xxxxx") {
					if secret == "duroxide_test@" && !strings.Contains(msg, ":duroxide_test@") {
						continue // the user name alone is fine
					}
					t.Errorf("error %q shows a password", msg)
				}
			}
		})
	}
}

// An unroutable host times out within ConnectTimeout.
func TestOpenTimesOut(t *testing.T) {
	dsn := testDSN(t)
	// A listener that never answers the startup message.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	silent := withURL(t, dsn, func(u *url.URL) { u.Host = l.Addr().String() })
	t0 := time.Now()
	_, err = Open(bg0, silent, &Options{ConnectTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("Open of a silent server: %v, want a timeout", err)
	}
	if el := time.Since(t0); el > 5*time.Second {
		t.Fatalf("Open took %v with a 300ms connect timeout", el)
	}
}

// adminConn connects as the test role.
func adminConn(t testing.TB, dsn string) *pgx.Conn {
	t.Helper()
	c, err := pgx.Connect(bg0, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestOpenWithoutPrivileges opens stores as a role that lacks privileges:
// each missing privilege is a clear error naming the role, what it tried
// and the GRANT that fixes it; with table privileges only (no CREATE), a
// schema another role migrated opens and works.
func TestOpenWithoutPrivileges(t *testing.T) {
	dsn := testDSN(t)
	admin := adminConn(t, dsn)
	role := "dxt_role_" + strings.ToLower(newToken()[:8])
	const pw = "role-pw-123"
	if _, err := admin.Exec(bg0, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", role, pw)); err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "42501" {
			t.Skipf("the test role may not create roles (scripts/pg-start.sh grants CREATEROLE): %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(bg0, dsn)
		if err != nil {
			return
		}
		defer c.Close(bg0)
		_, _ = c.Exec(bg0, "DROP OWNED BY "+role)
		_, _ = c.Exec(bg0, "DROP ROLE "+role)
	})
	roleDSN := withURL(t, dsn, func(u *url.URL) { u.User = url.UserPassword(role, pw) })
	open := func(schema string) (*Store, error) {
		return Open(bg0, roleDSN, &Options{Schema: schema})
	}
	wantErr := func(err error, parts ...string) {
		t.Helper()
		if err == nil {
			t.Fatal("Open succeeded")
		}
		t.Log(err)
		for _, p := range parts {
			if !strings.Contains(err.Error(), p) {
				t.Fatalf("error %q does not say %q", err, p)
			}
		}
		if strings.Contains(err.Error(), pw) {
			t.Fatalf("error %q shows the password", err)
		}
	}

	// 1. A new schema in a database where the role may not create schemas.
	fresh := newSchema(t, dsn)
	_, err := open(fresh)
	wantErr(err, fmt.Sprintf("role %q may not create schema %q", role, fresh), "GRANT CREATE ON DATABASE")

	// 2. An empty schema the role may use but not create in.
	empty := newSchema(t, dsn)
	if _, err := admin.Exec(bg0, fmt.Sprintf("CREATE SCHEMA %s; GRANT USAGE ON SCHEMA %[1]s TO %s", empty, role)); err != nil {
		t.Fatal(err)
	}
	_, err = open(empty)
	wantErr(err, fmt.Sprintf("may not create tables in schema %q", empty), "GRANT CREATE ON SCHEMA")

	// 3. A migrated schema the role has no privileges on.
	migrated := openTest(t, nil)
	migrated.Close()
	_, err = open(migrated.Schema())
	wantErr(err, fmt.Sprintf("may not read the tables of schema %q", migrated.Schema()), "GRANT USAGE ON SCHEMA")

	// 4. With the privileges to use the tables (and none to change the
	// schema), the store opens without DDL and runs turns.
	sch := pgx.Identifier{migrated.Schema()}.Sanitize()
	if _, err := admin.Exec(bg0, fmt.Sprintf(`GRANT USAGE ON SCHEMA %[1]s TO %[2]s;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %[1]s TO %[2]s;
GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %[1]s TO %[2]s`, sch, role)); err != nil {
		t.Fatal(err)
	}
	s, err := open(migrated.Schema())
	if err != nil {
		t.Fatalf("Open with table privileges: %v", err)
	}
	defer s.Close()
	createInstance(t, s, "a")
	if h, err := s.Read(bg0, "a"); err != nil || len(h) != 1 {
		t.Fatalf("read as the restricted role: %v %v", h, err)
	}
}

// Concurrent Opens of a new schema apply the migrations once.
func TestConcurrentOpens(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	const n = 6
	stores := make([]*Store, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			stores[i], errs[i] = Open(bg0, dsn, &Options{Schema: schema})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	createInstance(t, stores[0], "a")
	if h, err := stores[n-1].Read(bg0, "a"); err != nil || len(h) != 1 {
		t.Fatalf("another store reads %v, %v", h, err)
	}
	var versions int
	if err := adminConn(t, dsn).QueryRow(bg0, "SELECT COUNT(*) FROM "+pgx.Identifier{schema}.Sanitize()+".schema_version").Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if versions != SchemaVersion() {
		t.Fatalf("schema_version has %d rows, want %d", versions, SchemaVersion())
	}
}

func TestReopenKeepsData(t *testing.T) {
	dsn := testDSN(t)
	schema := newSchema(t, dsn)
	s, err := Open(bg0, dsn, &Options{Schema: schema})
	must(t, err)
	createInstance(t, s, "a")
	mustEnqueue(t, s, history.WorkItem{Kind: history.WorkExternalRaised, Instance: "a", Name: "e"})
	must(t, s.Close())
	// The schema may also come in the DSN.
	s, err = Open(bg0, withURL(t, dsn, func(u *url.URL) { u.RawQuery += "&schema=" + schema }), nil)
	must(t, err)
	defer s.Close()
	if s.Schema() != schema {
		t.Fatalf("schema %q, want %q from the DSN", s.Schema(), schema)
	}
	if h, err := s.Read(bg0, "a"); err != nil || len(h) != 1 {
		t.Fatalf("history after reopen: %v, %v", h, err)
	}
	it, err := s.FetchOrchestrationItem(bg0, time.Minute, 0, nil)
	if err != nil || it == nil || len(it.Messages) != 1 || it.Messages[0].Name != "e" {
		t.Fatalf("queued message after reopen: %+v, %v", it, err)
	}
}

// Two schemas in one database are two independent stores.
func TestSchemasAreIsolated(t *testing.T) {
	a := openTest(t, testOptions())
	defer a.Close()
	b := openTest(t, testOptions())
	defer b.Close()
	createInstance(t, a, "x")
	if h, err := b.Read(bg0, "x"); err != nil || len(h) != 0 {
		t.Fatalf("the other schema sees %v, %v", h, err)
	}
	mustEnqueue(t, a, start("y"))
	if it, err := b.FetchOrchestrationItem(bg0, time.Minute, 200*time.Millisecond, nil); err != nil || it != nil {
		t.Fatalf("the other schema fetched %v, %v", it, err)
	}
	if it, err := a.FetchOrchestrationItem(bg0, time.Minute, 0, nil); err != nil || it == nil || it.Instance != "y" {
		t.Fatalf("fetch: %v, %v", it, err)
	}
}

func TestValidateSchema(t *testing.T) {
	for _, ok := range []string{"public", "duroxide", "Tenant_1", "_x", strings.Repeat("a", 48)} {
		if err := ValidateSchema(ok); err != nil {
			t.Errorf("ValidateSchema(%q): %v", ok, err)
		}
	}
	for _, bad := range []string{"", "1abc", "a-b", "a b", `a"b`, "a;b", "ü", "pg_temp", "PG_X", strings.Repeat("a", 49)} {
		if err := ValidateSchema(bad); err == nil {
			t.Errorf("ValidateSchema(%q) accepted", bad)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://u:secret@h:5432/db?sslmode=disable":       "postgres://u:xxxxx@h:5432/db?sslmode=disable",
		"postgresql://u@h/db?password=secret&sslmode=disable": "postgresql://u@h/db?password=xxxxx&sslmode=disable",
		"host=h user=u password=secret dbname=db":             "host=h user=u password=xxxxx dbname=db",
		"host=h password='se cret' dbname=db":                 "host=h password=xxxxx dbname=db",
		"postgres://u@h/db":                                   "postgres://u@h/db",
	} {
		if got := Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestErrorClassification(t *testing.T) {
	pg := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }
	for _, tc := range []struct {
		err       error
		retryable bool
		lockLost  bool
	}{
		{pg("08006"), true, false},  // connection failure
		{pg("57P01"), true, false},  // admin shutdown (server restart)
		{pg("57P03"), true, false},  // cannot connect now (starting up)
		{pg("40001"), true, false},  // serialization failure
		{pg("40P01"), true, false},  // deadlock
		{pg("53300"), true, false},  // too many connections
		{pg("23505"), false, false}, // unique violation
		{pg("42501"), false, false}, // insufficient privilege
		{pg("42P01"), false, false}, // undefined table
		{pg("DXLCK"), false, true},  // the store's lock lost
		{pg("DXBAD"), false, false}, // the store's bad input
		{&net.OpError{Op: "dial", Err: errors.New("refused")}, true, false},
		{errors.New("unexpected EOF"), true, false},
		{context.DeadlineExceeded, true, false},
		{badInput("x"), false, false},
		{provider.ErrClosed, false, false},
	} {
		err := wrap("Op", "", tc.err)
		if provider.IsRetryable(err) != tc.retryable || errors.Is(err, provider.ErrLockLost) != tc.lockLost {
			t.Errorf("%v: retryable %v, lock lost %v; want %v, %v", tc.err, provider.IsRetryable(err),
				errors.Is(err, provider.ErrLockLost), tc.retryable, tc.lockLost)
		}
	}
}
