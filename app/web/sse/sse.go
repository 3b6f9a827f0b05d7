// Package sse is the one setup of a server-sent event stream on Parley's surfaces (the
// dashboard's live updates, Test Chat and widget replies, the widget API's stream): the
// headers, the status, the event framing and the flush after each write. It imports no
// surface, no store and no service.
package sse

import (
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// Stream is an open event stream.
type Stream struct{ res *echo.Response }

// Start answers 200 as text/event-stream, uncached and unbuffered by proxies, and flushes
// the headers.
func Start(c echo.Context) *Stream {
	res := c.Response()
	h := res.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	res.WriteHeader(http.StatusOK)
	res.Flush()
	return &Stream{res: res}
}

// Send writes one event (each line of data its own data: line) and flushes it; an error
// means the client has gone away.
func (s *Stream) Send(event, data string) error {
	if err := Write(s.res, event, data); err != nil {
		return err
	}
	s.res.Flush()
	return nil
}

// Raw writes text as it is (a retry: field, a comment) and flushes it.
func (s *Stream) Raw(text string) error {
	if _, err := fmt.Fprint(s.res, text); err != nil {
		return err
	}
	s.res.Flush()
	return nil
}

// Write writes one event without flushing.
func Write(w http.ResponseWriter, event, data string) error {
	var b strings.Builder
	b.WriteString("event: ")
	b.WriteString(event)
	b.WriteByte('\n')
	for _, line := range strings.Split(data, "\n") {
		b.WriteString("data: ")
		b.WriteString(strings.TrimRight(line, "\r"))
		b.WriteByte('\n')
	}
	b.WriteByte('\n')
	_, err := w.Write([]byte(b.String()))
	return err
}

// Wanted reports a request that asks for an event stream.
func Wanted(c echo.Context) bool {
	return strings.Contains(c.Request().Header.Get("Accept"), "text/event-stream")
}
