// Package sse is the one setup of a server-sent event stream on Parley's surfaces (the
// dashboard's live updates, Test Chat and widget replies, the widget API's stream): the
// headers, the status, the event framing and the flush after each write. It imports no
// surface, no store and no service.
package sse

import (
	"fmt"
	"net/http"
	"strings"
	"sync"

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

// Cap bounds the open streams of one key (a user) in this process: opening one more than the
// limit ends the oldest, whose Open channel closes. A user with many tabs keeps the newest ones live
// (a closed tab's stream ends anyway when its connection does); nobody can hold a web
// process's connections open by the hundred.
type Cap struct {
	mu   sync.Mutex
	open map[string][]*capped
}

type capped struct{ ended chan struct{} }

// Open registers one stream of key; the returned channel closes when a newer stream of the
// same key pushes this one out. Call release when the stream ends.
func (c *Cap) Open(key string, limit int) (ended <-chan struct{}, release func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open == nil {
		c.open = map[string][]*capped{}
	}
	me := &capped{ended: make(chan struct{})}
	list := append(c.open[key], me)
	for len(list) > max(limit, 1) {
		close(list[0].ended)
		list = list[1:]
	}
	c.open[key] = list
	return me.ended, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		list := c.open[key]
		for i, s := range list {
			if s == me {
				c.open[key] = append(list[:i:i], list[i+1:]...)
				break
			}
		}
		if len(c.open[key]) == 0 {
			delete(c.open, key)
		}
	}
}
