package mcp

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// HTTPPath is where ServeHTTP serves the streamable HTTP transport.
const HTTPPath = "/mcp"

// MinTokenBytes is the shortest bearer token ServeHTTP accepts.
const MinTokenBytes = 16

// HTTPOptions configure ServeHTTP.
type HTTPOptions struct {
	// Addr is the host:port to listen on ("127.0.0.1:8765"; port 0 picks a
	// free port). Required.
	Addr string
	// Token is the bearer token every request must carry
	// ("Authorization: Bearer <token>"). Required unless NoAuth.
	Token string
	// NoAuth serves without a token; allowed only on a loopback address.
	NoAuth bool
	// Ready, when set, is called with the address actually listened on
	// once the listener is open.
	Ready func(addr net.Addr)
}

// ErrConfig marks a refused HTTP configuration.
var ErrConfig = errors.New("refused")

// CheckHTTPConfig refuses an unsafe HTTP configuration: no token on a
// non-loopback address, --no-auth off loopback, both a token and NoAuth, or
// a token shorter than MinTokenBytes.
func CheckHTTPConfig(addr, token string, noAuth bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("%w: HTTP address %q: want host:port, e.g. 127.0.0.1:8765", ErrConfig, addr)
	}
	loop := IsLoopback(host)
	switch {
	case noAuth && token != "":
		return fmt.Errorf("%w: both a token and --no-auth given; choose one", ErrConfig)
	case noAuth && !loop:
		return fmt.Errorf("%w: --no-auth is only allowed on a loopback address (127.0.0.1, ::1, localhost), not %q", ErrConfig, addr)
	case noAuth:
		return nil
	case token == "" && loop:
		return fmt.Errorf("%w: HTTP needs a bearer token (--token or DUROXIDE_MCP_TOKEN), or --no-auth to serve %q without one", ErrConfig, addr)
	case token == "":
		return fmt.Errorf("%w: HTTP on the non-loopback address %q needs a bearer token (--token or DUROXIDE_MCP_TOKEN)", ErrConfig, addr)
	case len(token) < MinTokenBytes:
		return fmt.Errorf("%w: the bearer token is %d bytes; use at least %d random bytes", ErrConfig, len(token), MinTokenBytes)
	}
	return nil
}

// IsLoopback reports whether host (a name or an IP, no port) is loopback.
// An empty host (all interfaces) is not.
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// HTTPHandler returns the streamable HTTP handler of s at HTTPPath, behind
// a bearer-token check when token is not empty.
func (s *Server) HTTPHandler(token string) http.Handler {
	h := sdk.NewStreamableHTTPHandler(func(*http.Request) *sdk.Server { return s.srv },
		&sdk.StreamableHTTPOptions{Logger: s.opts.Logger})
	mux := http.NewServeMux()
	mux.Handle(HTTPPath, h)
	if token == "" {
		return mux
	}
	return RequireBearer(token, mux)
}

// RequireBearer answers 401 to any request whose Authorization header does
// not carry the token.
func RequireBearer(token string, next http.Handler) http.Handler {
	want := []byte(token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="duroxide"`)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusUnauthorized)
			msg := "missing bearer token"
			if ok {
				msg = "invalid bearer token"
			}
			fmt.Fprintf(w, `{"error":%q}`+"\n", msg)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// ServeHTTP serves s over streamable HTTP until ctx ends, then shuts down
// within five seconds.
func (s *Server) ServeHTTP(ctx context.Context, o HTTPOptions) error {
	if err := CheckHTTPConfig(o.Addr, o.Token, o.NoAuth); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.Addr, err)
	}
	srv := &http.Server{Handler: s.HTTPHandler(o.Token), ReadHeaderTimeout: 10 * time.Second}
	if o.Ready != nil {
		o.Ready(ln.Addr())
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve HTTP on %s: %w", o.Addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	<-done
	return err
}
