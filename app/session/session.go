// Package session keeps the dashboard's sessions on the server (issue 12, item 3), with
// github.com/alexedwards/scs/v2 as the session manager and the database as its store: the
// cookie carries a random token and nothing else, the row (app/store/sessions.go) is keyed by
// the token's SHA-256, and ending a session deletes its row, so a copied or replayed cookie
// stops working at logout, at "log out" from another device, after PARLEY_SESSION_IDLE
// without use and PARLEY_SESSION_MAX after its login.
//
// It decides the rules: who a session belongs to (written at login only), when it has expired
// (its absolute deadline; its last use, recorded at most once a minute so that reading pages
// does not turn into a write per request), the CSRF token that lives in the session and is
// renewed with the session's token at login, which sessions a user may list and end, and when
// expired rows are pruned. The web surface loads and saves it around each dashboard request
// (app/web/dashboard); only app/store builds SQL.
package session

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/alexedwards/scs/v2"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// CookieName is the session cookie.
const CookieName = "parley_session"

// csrfKey is the session value holding the CSRF token.
const csrfKey = "csrf"

// pruneEvery is how often one process deletes expired rows (from a save, see maybePrune).
const pruneEvery = 10 * time.Minute

// anonIdle is the idle time of a session nobody logged in to (a login page's CSRF token):
// anyone can make one per request, so they go sooner than the logged-in ones.
const anonIdle = time.Hour

// Options configure a Manager.
type Options struct {
	Idle   time.Duration // PARLEY_SESSION_IDLE
	Max    time.Duration // PARLEY_SESSION_MAX
	Secure bool          // the cookie's Secure attribute (PARLEY_BASE_URL is https)
}

// Manager is the dashboard's session manager.
type Manager struct {
	Store *store.Store
	Log   *slog.Logger
	Idle  time.Duration
	Max   time.Duration

	scs       *scs.SessionManager
	clock     atomic.Pointer[func() time.Time]
	lastPrune atomic.Int64 // unix nanoseconds of the last prune by this process
}

// New builds the manager: a persistent cookie (HttpOnly, SameSite=Lax, Secure when
// configured) that lives until the session's absolute deadline; the idle timeout is this
// package's, not scs's, since scs would save every session on every request to move it.
func New(st *store.Store, log *slog.Logger, o Options) *Manager {
	if o.Max <= 0 {
		o.Max = config.DefaultSessionMax
	}
	if o.Idle <= 0 {
		o.Idle = min(config.DefaultSessionIdle, o.Max)
	}
	m := &Manager{Store: st, Log: log, Idle: o.Idle, Max: o.Max}
	sm := scs.New()
	sm.Store = dbStore{m}
	sm.Lifetime = o.Max
	sm.IdleTimeout = 0
	sm.Cookie.Name = CookieName
	sm.Cookie.Path = "/"
	sm.Cookie.HttpOnly = true
	sm.Cookie.SameSite = http.SameSiteLaxMode
	sm.Cookie.Secure = o.Secure
	sm.Cookie.Persist = true
	m.scs = sm
	return m
}

// SetClock replaces the clock that decides expiry and last use (tests).
func (m *Manager) SetClock(now func() time.Time) { m.clock.Store(&now) }

func (m *Manager) now() time.Time {
	t := time.Now()
	if f := m.clock.Load(); f != nil {
		t = (*f)()
	}
	return t.UTC().Truncate(time.Microsecond)
}

// touchEvery is how stale a session's recorded last use may get before a request writes it
// again: once a minute (sooner with an idle timeout of a few minutes).
func (m *Manager) touchEvery() time.Duration { return min(time.Minute, m.Idle/10) }

// Client is who sends a request: its address and user agent.
type Client struct {
	IP        string
	UserAgent string
}

// maxUserAgent bounds the stored user agent.
const maxUserAgent = 256

// cleanUserAgent keeps at most maxUserAgent bytes of printable text (no control character,
// no invalid UTF-8, which PostgreSQL would refuse).
func cleanUserAgent(ua string) string {
	var b strings.Builder
	for _, r := range strings.ToValidUTF8(ua, "") {
		if !unicode.IsPrint(r) {
			continue
		}
		if b.Len()+utf8.RuneLen(r) > maxUserAgent {
			break
		}
		b.WriteRune(r)
	}
	return b.String()
}

// state is one request's view of its session row, shared (by pointer) between the store
// adapter, which fills it, and the manager's methods.
type state struct {
	client Client
	row    *store.Session // the valid row of the request's token, nil when none
}

type stateKey struct{}

func stateOf(ctx context.Context) *state {
	st, _ := ctx.Value(stateKey{}).(*state)
	if st == nil {
		return &state{}
	}
	return st
}

// Load reads the session of r's cookie into a context derived from r's (a new, empty session
// when there is no valid one). Call Save before the response's header is written.
func (m *Manager) Load(r *http.Request, client Client) (context.Context, error) {
	var token string
	if c, err := r.Cookie(CookieName); err == nil {
		token = c.Value
	}
	client.UserAgent = cleanUserAgent(client.UserAgent)
	ctx := context.WithValue(r.Context(), stateKey{}, &state{client: client})
	return m.scs.Load(ctx, token)
}

// Save stores a changed session and sets its cookie, or clears the cookie of a destroyed one;
// an unchanged session writes nothing.
func (m *Manager) Save(ctx context.Context, w http.ResponseWriter) error {
	switch m.scs.Status(ctx) {
	case scs.Modified:
		token, expiry, err := m.scs.Commit(ctx)
		if err != nil {
			return err
		}
		m.scs.WriteSessionCookie(ctx, w, token, expiry)
	case scs.Destroyed:
		m.scs.WriteSessionCookie(ctx, w, "", time.Time{})
	}
	return nil
}

// User is the id of the session's user, 0 when nobody is logged in.
func (m *Manager) User(ctx context.Context) int64 {
	if row := stateOf(ctx).row; row != nil && row.UserID != nil {
		return *row.UserID
	}
	return 0
}

// ID is the id of the request's session row, 0 when it has none (nobody logged in, or a
// session not saved yet): a password change keeps this one and ends the user's others.
func (m *Manager) ID(ctx context.Context) int64 {
	if row := stateOf(ctx).row; row != nil {
		return row.ID
	}
	return 0
}

// Workspace is the id of the workspace the session works in (the dashboard's current one),
// 0 when nobody is logged in.
func (m *Manager) Workspace(ctx context.Context) int64 {
	if row := stateOf(ctx).row; row != nil && row.WorkspaceID != nil {
		return *row.WorkspaceID
	}
	return 0
}

// SwitchWorkspace makes the request's session work in workspace id from now on (the caller
// has checked that its user is a member there).
func (m *Manager) SwitchWorkspace(ctx context.Context, id int64) error {
	row := stateOf(ctx).row
	if row == nil || row.UserID == nil {
		return ErrNotFound
	}
	if err := m.Store.SetSessionWorkspace(ctx, row.ID, *row.UserID, id); err != nil {
		return err
	}
	row.WorkspaceID = &id
	return nil
}

// owner is who a session is given to at login.
type owner struct {
	user, workspace int64
}

type ownerKey struct{}

// Login gives the request's session to u: a new token (the old one, which a visitor may have
// been handed by someone else, is deleted: no session fixation), a new CSRF token, and the
// owner, device and address written with the row.
func (m *Manager) Login(ctx context.Context, u *store.User) error {
	if err := m.scs.RenewToken(ctx); err != nil {
		return err
	}
	m.scs.SetDeadline(ctx, m.now().Add(m.Max)) // the absolute lifetime counts from the login
	m.scs.Put(ctx, csrfKey, rand.Text())
	octx := context.WithValue(ctx, ownerKey{}, &owner{user: u.ID, workspace: u.WorkspaceID})
	_, _, err := m.scs.Commit(octx)
	return err
}

// Logout ends the request's session: its row is deleted and the cookie cleared.
func (m *Manager) Logout(ctx context.Context) error {
	stateOf(ctx).row = nil
	return m.scs.Destroy(ctx)
}

// CSRFToken is the session's CSRF token, drawn (and saved with the session) on first use.
func (m *Manager) CSRFToken(ctx context.Context) string {
	if t := m.scs.GetString(ctx, csrfKey); t != "" {
		return t
	}
	t := rand.Text()
	m.scs.Put(ctx, csrfKey, t)
	return t
}

// ValidCSRF reports whether got is the session's CSRF token; a session without one (a token
// from another session, or from this browser before it logged in) has none to match.
func (m *Manager) ValidCSRF(ctx context.Context, got string) bool {
	want := m.scs.GetString(ctx, csrfKey)
	return want != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// Info is one of a user's sessions as Settings lists it.
type Info struct {
	ID       int64
	Device   string // the user agent, shortened ("Firefox on Linux")
	Address  string
	Created  time.Time
	LastSeen time.Time
	Current  bool // the session of the request
}

// List is the user's live sessions, most recently used first.
func (m *Manager) List(ctx context.Context, userID int64) ([]Info, error) {
	now := m.now()
	rows, err := m.Store.UserSessions(ctx, userID, now, now.Add(-m.Idle))
	if err != nil {
		return nil, err
	}
	cur := int64(0)
	if row := stateOf(ctx).row; row != nil {
		cur = row.ID
	}
	out := make([]Info, 0, len(rows))
	for _, r := range rows {
		out = append(out, Info{ID: r.ID, Device: Device(r.UserAgent), Address: r.ClientIP, Created: r.CreatedAt, LastSeen: r.LastSeenAt, Current: r.ID == cur})
	}
	return out, nil
}

// ErrNotFound: the user has no session with that id.
var ErrNotFound = errors.New("no such session")

// Revoke ends one of the user's sessions (ErrNotFound when it is not theirs); current says it
// was the request's own, which is then ended too (its cookie cleared).
func (m *Manager) Revoke(ctx context.Context, userID, id int64) (current bool, err error) {
	err = m.Store.DeleteUserSession(ctx, userID, id)
	if errors.Is(err, store.ErrNotFound) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, err
	}
	if row := stateOf(ctx).row; row != nil && row.ID == id {
		return true, m.Logout(ctx)
	}
	return false, nil
}

// RevokeAll ends every session of the user, the request's own included: "log out everywhere"
// means this browser too (its cookie may be the copy someone else holds).
func (m *Manager) RevokeAll(ctx context.Context, userID int64) error {
	if _, err := m.Store.DeleteUserSessions(ctx, userID); err != nil {
		return err
	}
	return m.Logout(ctx)
}

// Prune deletes the sessions that have expired (absolute deadline or idle time, an hour for
// those nobody logged in to) and says how many.
func (m *Manager) Prune(ctx context.Context) (int64, error) {
	now := m.now()
	m.lastPrune.Store(now.UnixNano())
	return m.Store.PruneSessions(ctx, now, now.Add(-m.Idle), now.Add(-min(m.Idle, anonIdle)))
}

// maybePrune prunes when this process has not for pruneEvery. It runs from a save (the only
// way rows are created), so the table is kept small wherever sessions are made, with no
// goroutine of its own.
func (m *Manager) maybePrune(ctx context.Context) {
	now := m.now().UnixNano()
	last := m.lastPrune.Load()
	if now-last < int64(pruneEvery) || !m.lastPrune.CompareAndSwap(last, now) {
		return
	}
	if n, err := m.Prune(ctx); err != nil {
		m.Log.Warn("pruning expired sessions", "err", err)
	} else if n > 0 {
		m.Log.Debug("pruned expired sessions", "count", n)
	}
}

// hashToken is the key of a token's row: a copy of the database holds no usable cookie.
func hashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// dbStore is the scs store over app/store (scs.CtxStore).
type dbStore struct{ m *Manager }

var _ scs.CtxStore = dbStore{}

func (d dbStore) Find(token string) ([]byte, bool, error) {
	return d.FindCtx(context.Background(), token)
}

func (d dbStore) Commit(token string, b []byte, expiry time.Time) error {
	return d.CommitCtx(context.Background(), token, b, expiry)
}

func (d dbStore) Delete(token string) error { return d.DeleteCtx(context.Background(), token) }

// FindCtx returns a session's data unless it has expired: past its absolute deadline, or
// unused for the idle time. It records the use when the recorded one is older than
// touchEvery.
func (d dbStore) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	m := d.m
	row, err := m.Store.SessionByHash(ctx, hashToken(token))
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	now := m.now()
	idle := m.Idle
	if row.UserID == nil {
		idle = min(idle, anonIdle)
	}
	if !now.Before(row.Expiry) || now.Sub(row.LastSeenAt) >= idle {
		return nil, false, nil // refused now, deleted by the next prune
	}
	st := stateOf(ctx)
	st.row = row
	if now.Sub(row.LastSeenAt) >= m.touchEvery() {
		if err := m.Store.TouchSession(ctx, row.ID, now, st.client.IP, st.client.UserAgent); err != nil {
			m.Log.Warn("recording a session's last use", "err", err)
		} else {
			row.LastSeenAt, row.ClientIP, row.UserAgent = now, st.client.IP, st.client.UserAgent
		}
	}
	return row.Data, true, nil
}

// CommitCtx saves a session's data. Only Login's commit carries an owner; every other save
// leaves the row's owner as it is (or, for a deleted row, creates an anonymous one).
func (d dbStore) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	m := d.m
	st := stateOf(ctx)
	row := &store.Session{TokenHash: hashToken(token), Data: b, Expiry: expiry, LastSeenAt: m.now(),
		ClientIP: st.client.IP, UserAgent: st.client.UserAgent}
	if o, _ := ctx.Value(ownerKey{}).(*owner); o != nil {
		row.UserID, row.WorkspaceID = &o.user, &o.workspace
	}
	if err := m.Store.SaveSession(ctx, row); err != nil {
		return err
	}
	m.maybePrune(ctx)
	return nil
}

func (d dbStore) DeleteCtx(ctx context.Context, token string) error {
	return d.m.Store.DeleteSessionByHash(ctx, hashToken(token))
}
