package evmrpc

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An HTTP error from something that is not a node (a web server, a proxy's
// HTML error page) is one short line naming the URL and status (QA: the
// whole multi-line HTML page went into the error).
func TestHTTPErrorIsOneLine(t *testing.T) {
	page := "<!DOCTYPE HTML>\n<html>\n<head><title>Error response</title></head>\n" + strings.Repeat("<p>filler line</p>\n", 300) + "</html>\n"
	for _, c := range []struct {
		name   string
		status int
		body   string
		want   string
	}{
		{"html page", http.StatusNotImplemented, page, `HTTP 501 Not Implemented, not a JSON-RPC response: "<!DOCTYPE HTML>\n<html>`},
		{"empty body", http.StatusNotFound, "", `HTTP 404 Not Found, not a JSON-RPC response: ""`},
		{"short text", http.StatusForbidden, "forbidden\n", `HTTP 403 Forbidden, not a JSON-RPC response: "forbidden\n"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer srv.Close()
			_, err := New(srv.URL).BlockNumber()
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if strings.Contains(msg, "\n") || len(msg) > 300 || !strings.Contains(msg, srv.URL) || !strings.Contains(msg, c.want) {
				t.Fatalf("error %q (%d bytes), want one line naming %s and %q", msg, len(msg), srv.URL, c.want)
			}
		})
	}
}
