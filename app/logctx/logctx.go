// Package logctx carries log attributes in a context: the request id of the web request that
// caused some work, and the task type and id of a background job. Handler adds them to every
// record logged with that context (slog's *Context methods and LogAttrs), so that one webhook
// can be followed from the web request into every job it causes.
//
// It is plumbing: it imports nothing of Parley and holds no rule.
package logctx

import (
	"context"
	"log/slog"
)

type key struct{}

// Fields are the attributes a context carries; empty ones are left out.
type Fields struct {
	RequestID string
	Task      string
	TaskID    string
}

// From returns the fields ctx carries.
func From(ctx context.Context) Fields {
	if ctx == nil {
		return Fields{}
	}
	f, _ := ctx.Value(key{}).(Fields)
	return f
}

// With returns ctx carrying f; empty fields of f keep the values ctx already carries.
func With(ctx context.Context, f Fields) context.Context {
	cur := From(ctx)
	if f.RequestID != "" {
		cur.RequestID = f.RequestID
	}
	if f.Task != "" {
		cur.Task = f.Task
	}
	if f.TaskID != "" {
		cur.TaskID = f.TaskID
	}
	return context.WithValue(ctx, key{}, cur)
}

// WithRequestID returns ctx carrying the request id id (unchanged when id is empty).
func WithRequestID(ctx context.Context, id string) context.Context {
	if id == "" {
		return ctx
	}
	return With(ctx, Fields{RequestID: id})
}

// RequestID is the request id ctx carries, or "".
func RequestID(ctx context.Context) string { return From(ctx).RequestID }

// Handler adds the context's fields to each record as task, task_id and request_id, unless
// the record names them itself.
type Handler struct{ slog.Handler }

// Wrap returns h wrapped in a Handler (h itself when it is one already).
func Wrap(h slog.Handler) slog.Handler {
	if _, ok := h.(Handler); ok {
		return h
	}
	return Handler{h}
}

// Logger returns l with a Handler.
func Logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return nil
	}
	if _, ok := l.Handler().(Handler); ok {
		return l
	}
	return slog.New(Handler{l.Handler()})
}

// Handle adds the fields of ctx that r does not carry.
func (h Handler) Handle(ctx context.Context, r slog.Record) error {
	f := From(ctx)
	if f != (Fields{}) {
		has := map[string]bool{}
		r.Attrs(func(a slog.Attr) bool {
			switch a.Key {
			case "task", "task_id", "request_id":
				has[a.Key] = true
			}
			return true
		})
		add := func(k, v string) {
			if v != "" && !has[k] {
				r.AddAttrs(slog.String(k, v))
			}
		}
		add("task", f.Task)
		add("task_id", f.TaskID)
		add("request_id", f.RequestID)
	}
	return h.Handler.Handle(ctx, r)
}

// WithAttrs keeps the wrapper.
func (h Handler) WithAttrs(as []slog.Attr) slog.Handler { return Handler{h.Handler.WithAttrs(as)} }

// WithGroup keeps the wrapper.
func (h Handler) WithGroup(name string) slog.Handler { return Handler{h.Handler.WithGroup(name)} }
