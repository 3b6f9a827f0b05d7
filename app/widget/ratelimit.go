package widget

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Limit is a fixed-window rate limit: at most Max events per Window.
type Limit struct {
	Name   string // "sessions" or "messages": part of the Redis key
	Max    int
	Window time.Duration
}

// PerMinute is a limit of n events a minute.
func PerMinute(name string, n int) Limit { return Limit{Name: name, Max: n, Window: time.Minute} }

// Decision is the outcome of one Allow.
type Decision struct {
	Allowed bool
	// Count is the number of events in the current window, this one included.
	Count int64
	// RetryAfter is how long until the window ends (when not allowed).
	RetryAfter time.Duration
}

// Limiter counts events in Redis, so that every web process shares the limits: INCR on a key
// per (limit, assistant, client IP, window), which expires with its window. Losing Redis loses
// only the counts.
type Limiter struct {
	Redis redis.UniversalClient
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Allow counts one event of (assistantID, clientIP) against lim.
func (l *Limiter) Allow(ctx context.Context, lim Limit, assistantID int64, clientIP string) (Decision, error) {
	now := time.Now()
	if l.Now != nil {
		now = l.Now()
	}
	if lim.Max <= 0 || lim.Window <= 0 {
		return Decision{Allowed: true}, nil
	}
	w := lim.Window.Milliseconds()
	slot := now.UnixMilli() / w
	end := time.UnixMilli((slot + 1) * w)
	key := "parley:widget:rate:" + lim.Name + ":" + strconv.FormatInt(assistantID, 10) + ":" + clientIP + ":" + strconv.FormatInt(slot, 10)
	var incr *redis.IntCmd
	_, err := l.Redis.TxPipelined(ctx, func(p redis.Pipeliner) error {
		incr = p.Incr(ctx, key)
		// A relative expiry: the clocks of Parley and Redis need not agree.
		p.Expire(ctx, key, end.Sub(now)+time.Second)
		return nil
	})
	if err != nil {
		return Decision{}, err
	}
	d := Decision{Count: incr.Val(), Allowed: incr.Val() <= int64(lim.Max)}
	if !d.Allowed {
		d.RetryAfter = end.Sub(now)
	}
	return d, nil
}

// RetryAfterSeconds is d rounded up to whole seconds, at least 1 (the Retry-After header).
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}
