// Package ratelimit is the one rate limiter of Parley: a GCRA limit (a bucket of Burst events
// that refills evenly over Period, so the window slides instead of resetting) kept in Redis by
// go-redis/redis_rate, so that every web process shares it, with an in-process limiter
// (golang.org/x/time/rate) that takes over while Redis does not answer: a Redis outage never
// turns limiting off. Client addresses are grouped by ClientKey (an IPv6 client by its /64).
//
// It owns only counting. Callers (the widget surface, sign-in) decide what an event is and
// what to answer; it imports nothing of Parley and writes nothing to the database.
package ratelimit

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/go-redis/redis_rate/v10"
	"github.com/redis/go-redis/v9"
	"golang.org/x/time/rate"
)

// Rule is a limit: at most Burst events at once, refilled at Burst per Period.
type Rule struct {
	Name   string // part of the key: "widget:sessions", "login:account", ...
	Burst  int
	Period time.Duration
}

// PerMinute is a rule of n events a minute.
func PerMinute(name string, n int) Rule { return Rule{Name: name, Burst: n, Period: time.Minute} }

// Result is the outcome of Allow or Peek.
type Result struct {
	Allowed bool
	// Remaining is how many more events the rule allows now.
	Remaining int
	// RetryAfter is how long until one more event is allowed (when not allowed).
	RetryAfter time.Duration
	// Local says that Redis did not answer and the in-process limiter decided.
	Local bool
}

// RetryAfterSeconds is r.RetryAfter rounded up to whole seconds, at least 1 (Retry-After).
func (r Result) RetryAfterSeconds() int {
	s := int((r.RetryAfter + time.Second - 1) / time.Second)
	return max(s, 1)
}

// redisTimeout bounds one Redis call: a Redis that hangs must not hold a sign-in or a widget
// request; the in-process limiter answers instead.
const redisTimeout = 300 * time.Millisecond

// Limiter counts events per rule and key.
type Limiter struct {
	redis *redis_rate.Limiter // nil: in-process only
	log   *slog.Logger
	local local
}

// New is a limiter on rdb (nil for in-process only).
func New(rdb redis.UniversalClient, log *slog.Logger) *Limiter {
	l := &Limiter{log: log}
	if rdb != nil {
		l.redis = redis_rate.NewLimiter(rdb)
	}
	if l.log == nil {
		l.log = slog.Default()
	}
	return l
}

// Allow counts one event of key against rule.
func (l *Limiter) Allow(ctx context.Context, rule Rule, key string) Result {
	return l.do(ctx, rule, key, 1)
}

// Peek says whether one more event would be allowed, without counting one.
func (l *Limiter) Peek(ctx context.Context, rule Rule, key string) Result {
	return l.do(ctx, rule, key, 0)
}

func (l *Limiter) do(ctx context.Context, rule Rule, key string, n int) Result {
	if rule.Burst <= 0 || rule.Period <= 0 {
		return Result{Allowed: true, Remaining: 1}
	}
	full := "parley:rate:" + rule.Name + ":" + key
	if l.redis != nil {
		rctx, cancel := context.WithTimeout(ctx, redisTimeout)
		res, err := l.redis.AllowN(rctx, full, redis_rate.Limit{Rate: rule.Burst, Burst: rule.Burst, Period: rule.Period}, n)
		cancel()
		if err == nil {
			return fromRedis(rule, res, n)
		}
		if ctx.Err() != nil {
			return Result{Allowed: true, Remaining: 1} // the caller left; nothing to protect
		}
		l.log.WarnContext(ctx, "rate limit: Redis did not answer, limiting in-process", "rule", rule.Name, "err", err)
	}
	return l.local.do(rule, full, n, time.Now())
}

func fromRedis(rule Rule, res *redis_rate.Result, n int) Result {
	if n == 0 {
		// A peek: one more is allowed while a whole event remains.
		r := Result{Allowed: res.Remaining >= 1, Remaining: res.Remaining}
		if !r.Allowed {
			interval := rule.Period / time.Duration(rule.Burst)
			r.RetryAfter = max(res.ResetAfter-time.Duration(rule.Burst-1)*interval, time.Second)
		}
		return r
	}
	r := Result{Allowed: res.Allowed >= n, Remaining: res.Remaining}
	if !r.Allowed {
		r.RetryAfter = max(res.RetryAfter, time.Second)
	}
	return r
}

// local is the in-process fallback: one token bucket per key, the same rule as in Redis.
type local struct {
	mu      sync.Mutex
	buckets map[string]*rate.Limiter
}

// maxLocalKeys bounds the fallback's memory; past it, full buckets (idle keys) are dropped.
const maxLocalKeys = 100_000

func (lc *local) do(rule Rule, key string, n int, now time.Time) Result {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if lc.buckets == nil {
		lc.buckets = map[string]*rate.Limiter{}
	}
	every := rate.Every(rule.Period / time.Duration(rule.Burst))
	b := lc.buckets[key]
	if b == nil {
		if len(lc.buckets) >= maxLocalKeys {
			for k, v := range lc.buckets {
				if v.TokensAt(now) >= float64(v.Burst()) {
					delete(lc.buckets, k)
				}
			}
		}
		b = rate.NewLimiter(every, rule.Burst)
		lc.buckets[key] = b
	}
	tokens := b.TokensAt(now)
	wait := func() time.Duration {
		return max(time.Duration((1-tokens)*float64(rule.Period)/float64(rule.Burst)), time.Second)
	}
	if n == 0 {
		if tokens >= 1 {
			return Result{Allowed: true, Remaining: int(tokens), Local: true}
		}
		return Result{Remaining: 0, RetryAfter: wait(), Local: true}
	}
	if b.AllowN(now, n) {
		return Result{Allowed: true, Remaining: int(b.TokensAt(now)), Local: true}
	}
	return Result{RetryAfter: wait(), Local: true}
}

// ClientKey is the key of a client address: an IPv4 address as it is, an IPv6 address by its
// /64 (one subscriber's network: a client that rotates through its prefix is still one
// client), anything unparsable as it is.
func ClientKey(addr string) string {
	ip := net.ParseIP(addr)
	if ip == nil {
		return addr
	}
	if v4 := ip.To4(); v4 != nil {
		return v4.String()
	}
	return ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
}
