// Package config reads Parley's configuration from the environment and validates it: one
// Config, Load from the environment, each variable with its default and a validation error
// that names it (the README's variable table is checked against it). It imports nothing of
// Parley and holds no product rule.
package config

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// Config is everything Parley reads from its environment.
type Config struct {
	Addr          string // PARLEY_ADDR (or PORT)
	DatabaseURL   string // DATABASE_URL; empty means the embedded SQLite file SQLitePath
	SQLitePath    string // file used when DatabaseURL is empty
	RedisURL      string // REDIS_URL; empty means an in-process Redis
	SecretKey     string // PARLEY_SECRET_KEY (hex or any string of 32+ characters)
	SecretKeyFile string // where the embedded mode keeps its generated key
	AdminEmail    string // PARLEY_ADMIN_EMAIL
	AdminPassword string // PARLEY_ADMIN_PASSWORD
	// OpenSignup (PARLEY_OPEN_SIGNUP) lets every signed-in person create workspaces, not only
	// the installation's admins.
	OpenSignup    bool
	BaseURL       string        // PARLEY_BASE_URL
	LogFormat     string        // PARLEY_LOG_FORMAT: text or json
	LogLevel      string        // PARLEY_LOG_LEVEL: debug, info, warn, error
	BodyLimit     string        // PARLEY_BODY_LIMIT, e.g. 1M
	SweepInterval time.Duration // PARLEY_SWEEP_INTERVAL
	// InboundRetention (PARLEY_INBOUND_RETENTION) is how long processed raw inbound events
	// (webhook payloads: customers' texts and numbers) are kept before they are pruned.
	InboundRetention time.Duration
	// AuditRetention (PARLEY_AUDIT_RETENTION) is how long audit log entries are kept.
	AuditRetention time.Duration
	// WorkerConcurrency (PARLEY_WORKER_CONCURRENCY) is how many jobs one worker process runs at
	// once. Jobs mostly wait on the LLM, the Graph API and the database.
	WorkerConcurrency int
	SecureCookies     bool // derived from BaseURL's scheme
	// Dashboard sessions (session.go): a session unused this long, or this old, is refused.
	SessionIdle time.Duration // PARLEY_SESSION_IDLE
	SessionMax  time.Duration // PARLEY_SESSION_MAX

	LLMBaseURL string        // PARLEY_LLM_BASE_URL: an OpenAI-compatible API (OpenAI, Ollama, vLLM, llama.cpp)
	LLMAPIKey  string        // PARLEY_LLM_API_KEY; empty selects the built-in offline provider
	LLMModel   string        // PARLEY_LLM_MODEL: the model of assistants that name none
	LLMTimeout time.Duration // PARLEY_LLM_TIMEOUT: the longest one LLM call may take, retries included
	PricesFile string        // PARLEY_PRICES_FILE: a JSON price table layered over the embedded one

	// WhatsApp Business (Cloud API).
	WhatsAppVerifyToken string        // PARLEY_WHATSAPP_VERIFY_TOKEN: the webhook handshake's hub.verify_token
	WhatsAppAppSecret   string        // PARLEY_WHATSAPP_APP_SECRET: the Meta app secret that signs webhooks
	WhatsAppGraphURL    string        // PARLEY_WHATSAPP_GRAPH_URL: the Graph API base, versioned
	WhatsAppWindow      time.Duration // PARLEY_WHATSAPP_WINDOW: the customer-service window (24h; shorter for demos and tests)
	WhatsAppIdle        time.Duration // PARLEY_WHATSAPP_IDLE: a WhatsApp conversation quiet this long is ended

	// Web widget.
	WidgetIdle         time.Duration // PARLEY_WIDGET_IDLE: a widget conversation quiet this long is ended
	TestChatIdle       time.Duration // PARLEY_TESTCHAT_IDLE: a Test Chat session quiet this long is ended
	WidgetRateSessions int           // PARLEY_WIDGET_RATE_SESSIONS: new widget sessions a minute per (client IP, assistant)
	WidgetRateMessages int           // PARLEY_WIDGET_RATE_MESSAGES: widget messages a minute per (client IP, assistant)

	// Operations.
	MetricsToken string // PARLEY_METRICS_TOKEN: the bearer token of /metrics on the web address; empty: /metrics there is 404
	MetricsAddr  string // PARLEY_METRICS_ADDR: a separate listen address serving /metrics without a token, in every role
	// TrustedProxies (PARLEY_TRUSTED_PROXIES): the networks of the reverse proxies whose
	// X-Forwarded-For names the client; empty: the connection's peer address is the client.
	TrustedProxies []*net.IPNet

	// Outgoing mail (mail.go): SMTP is nil when PARLEY_SMTP_URL is unset (mail is off).
	SMTP     *SMTP  // PARLEY_SMTP_URL
	MailFrom string // PARLEY_MAIL_FROM: the sender of every message
}

// LLM defaults.
const (
	DefaultLLMBaseURL = "https://api.openai.com/v1"
	DefaultLLMModel   = "gpt-4o-mini"
	DefaultLLMTimeout = 60 * time.Second
)

// WhatsApp defaults.
const (
	DefaultWhatsAppGraphURL = "https://graph.facebook.com/v21.0"
	DefaultWhatsAppWindow   = 24 * time.Hour
)

// Var describes one environment variable, for the README and --help.
type Var struct {
	Name, Default, Help string
}

// Vars lists every variable Parley reads.
var Vars = []Var{
	{"PARLEY_ADDR", ":8080", "Address the web server listens on. `PORT` is honoured when PARLEY_ADDR is unset."},
	{"DATABASE_URL", "SQLite file `parley.db` in the working directory", "`postgres://user@host:5432/db?sslmode=disable` for PostgreSQL; `sqlite:///path/to/file.db` or unset for SQLite."},
	{"REDIS_URL", "an in-process Redis (queued jobs do not survive a restart)", "`redis://host:6379/0` for a real Redis."},
	{"PARLEY_SECRET_KEY", "generated once into `parley.db.secret` beside the SQLite file", "Signs widget tokens and encrypts stored credentials; at least 32 characters. Required with PostgreSQL."},
	{"PARLEY_ADMIN_EMAIL", "unset", "With PARLEY_ADMIN_PASSWORD: the first admin, created at start when no user exists."},
	{"PARLEY_ADMIN_PASSWORD", "unset", "The first admin's password (at least 8 characters). When both are unset, the first visit offers a one-time setup form."},
	{"PARLEY_OPEN_SIGNUP", "false", "`true`: every signed-in person may create workspaces (each then owns the new one); `false`: only the installation's admins may (and `parley workspace create`)."},
	{"PARLEY_BASE_URL", "http://localhost:8080", "The public URL, used in links and the widget snippet."},
	{"PARLEY_LOG_FORMAT", "text (json when DATABASE_URL is PostgreSQL)", "`text` or `json`."},
	{"PARLEY_LOG_LEVEL", "info", "`debug`, `info`, `warn` or `error`."},
	{"PARLEY_BODY_LIMIT", "1M", "Largest request body the web server accepts (routes with their own limit excepted)."},
	{"PARLEY_SESSION_IDLE", "12h", "A dashboard session not used for this long ends: the next request asks for the password again (1m to 720h, at most PARLEY_SESSION_MAX)."},
	{"PARLEY_SESSION_MAX", "720h (30 days)", "A dashboard session ends this long after its login, however active (1m to 8760h)."},
	{"PARLEY_SWEEP_INTERVAL", "1m", "How often the scheduler sweeps for unprocessed inbound events."},
	{"PARLEY_INBOUND_RETENTION", "7d", "How long raw inbound events (the webhook payloads, which hold customers' messages and phone numbers) are kept once processed; a maintenance task deletes older ones every hour, never an unprocessed one. A Go duration (`72h`) or days (`30d`), from 1m to 3650d."},
	{"PARLEY_AUDIT_RETENTION", "365d", "How long audit log entries (Settings → Audit log) are kept; a maintenance task deletes older ones every hour. A Go duration or days (`730d`), from 1m to 3650d."},
	{"PARLEY_WORKER_CONCURRENCY", "10", "How many jobs one worker process runs at once (1 to 1000). Replies and extractions mostly wait on the LLM: with a provider that takes seconds per answer, raise it (or run more workers); each running job may hold one of the process's 20 database connections while it writes."},
	{"PARLEY_LLM_BASE_URL", DefaultLLMBaseURL, "An OpenAI-compatible chat-completions API: OpenAI, or a local server such as Ollama (`http://localhost:11434/v1`), vLLM or llama.cpp (`http://localhost:8000/v1`)."},
	{"PARLEY_LLM_API_KEY", "unset: the built-in offline provider answers", "The API key of PARLEY_LLM_BASE_URL. Servers that need no key (Ollama, llama.cpp) accept any value, such as `local`. When unset, a built-in offline provider greets with the assistant's first message and asks for the missing variables, so everything works without a network."},
	{"PARLEY_LLM_MODEL", DefaultLLMModel, "The model used by assistants that do not name one."},
	{"PARLEY_LLM_TIMEOUT", "60s", "The longest one LLM call may take, retries included (1s to 1h)."},
	{"PARLEY_PRICES_FILE", "unset: the embedded price table", "A JSON price table (same format as the embedded one) whose entries take precedence over the embedded defaults; models it does not match keep their default price."},
	{"PARLEY_WHATSAPP_VERIFY_TOKEN", "unset: the webhook handshake is refused", "The verify token entered in Meta's webhook settings; `GET /webhooks/whatsapp` answers Meta's handshake when it matches."},
	{"PARLEY_WHATSAPP_APP_SECRET", "unset: WhatsApp webhooks are refused", "The Meta app secret: every `POST /webhooks/whatsapp` must carry its HMAC-SHA256 signature (X-Hub-Signature-256)."},
	{"PARLEY_WHATSAPP_GRAPH_URL", DefaultWhatsAppGraphURL, "Meta's Graph API base URL, with its version, used to send WhatsApp messages."},
	{"PARLEY_WHATSAPP_WINDOW", "24h", "WhatsApp's customer-service window: free-form replies are allowed until this long after the customer's last message (1s to 24h; shorter only for demos and tests)."},
	{"PARLEY_WIDGET_IDLE", "30m", "A web widget conversation with no message for this long is ended; the visitor's next visit starts a new one (1m to 720h)."},
	{"PARLEY_WHATSAPP_IDLE", "24h", "A WhatsApp conversation with no message for this long is ended (its window closing ends it too); the customer's next message reopens it (1m to 720h)."},
	{"PARLEY_TESTCHAT_IDLE", "30m", "A Test Chat session with no message for this long is ended, as if closed (1m to 720h)."},
	{"PARLEY_WIDGET_RATE_SESSIONS", "30", "New web widget sessions allowed per minute for one client IP and assistant; more are answered 429 with Retry-After."},
	{"PARLEY_WIDGET_RATE_MESSAGES", "60", "Web widget messages allowed per minute for one client IP and assistant; more are answered 429 with Retry-After."},
	{"PARLEY_METRICS_TOKEN", "unset: `/metrics` on the web address answers 404", "When set, `GET /metrics` on the web address serves Prometheus metrics to requests carrying `Authorization: Bearer <token>` (401 otherwise). At least 16 characters (try: openssl rand -hex 16)."},
	{"PARLEY_TRUSTED_PROXIES", "unset: the client is the connection's address; X-Forwarded-For is ignored", "Comma-separated addresses or CIDR ranges of your reverse proxies or load balancer (for example `10.0.0.0/8,127.0.0.1`). Only a request from one of them has its client address (used by the widget's rate limits and the logs) taken from `X-Forwarded-For`; anyone else could forge that header."},
	{"PARLEY_SMTP_URL", "unset: no mail is sent (password reset by email is off; invite links are only shown)", "The outgoing mail server: `smtp://user:pass@host:587` (STARTTLS when the server offers it) or `smtps://user:pass@host:465` (TLS from the start). The password is sent only over TLS or to localhost. Messages are kept in the database and sent by the workers, with retries."},
	{"PARLEY_MAIL_FROM", "unset (required with PARLEY_SMTP_URL)", "The sender of Parley's mail, for example `Parley <parley@example.com>`."},
	{"PARLEY_METRICS_ADDR", "unset: no separate metrics listener", "A listen address such as `127.0.0.1:9090` or `:9090` where every role (web, worker, scheduler, all-in-one) serves `/metrics` without a token: keep it off the public network. This is how a separate worker process is scraped."},
}

// Error names the variable that is wrong.
type Error struct {
	Var string
	Msg string
}

func (e *Error) Error() string { return e.Var + ": " + e.Msg }

// Load reads the configuration from getenv (os.Getenv when nil) and validates it.
// It does not touch the disk: EnsureSecretKey does that for the embedded mode.
func Load(getenv func(string) string) (*Config, error) {
	if getenv == nil {
		getenv = os.Getenv
	}
	c := &Config{
		Addr:          getenv("PARLEY_ADDR"),
		DatabaseURL:   strings.TrimSpace(getenv("DATABASE_URL")),
		RedisURL:      strings.TrimSpace(getenv("REDIS_URL")),
		SecretKey:     getenv("PARLEY_SECRET_KEY"),
		AdminEmail:    strings.TrimSpace(getenv("PARLEY_ADMIN_EMAIL")),
		AdminPassword: getenv("PARLEY_ADMIN_PASSWORD"),
		BaseURL:       strings.TrimRight(strings.TrimSpace(getenv("PARLEY_BASE_URL")), "/"),
		LogFormat:     strings.ToLower(getenv("PARLEY_LOG_FORMAT")),
		LogLevel:      strings.ToLower(getenv("PARLEY_LOG_LEVEL")),
		BodyLimit:     getenv("PARLEY_BODY_LIMIT"),
		LLMBaseURL:    strings.TrimRight(strings.TrimSpace(getenv("PARLEY_LLM_BASE_URL")), "/"),
		LLMAPIKey:     strings.TrimSpace(getenv("PARLEY_LLM_API_KEY")),
		LLMModel:      strings.TrimSpace(getenv("PARLEY_LLM_MODEL")),
		PricesFile:    strings.TrimSpace(getenv("PARLEY_PRICES_FILE")),
		MetricsToken:  strings.TrimSpace(getenv("PARLEY_METRICS_TOKEN")),
		MetricsAddr:   strings.TrimSpace(getenv("PARLEY_METRICS_ADDR")),
	}
	if tp, err := parseTrustedProxies(getenv("PARLEY_TRUSTED_PROXIES")); err != nil {
		return nil, err
	} else {
		c.TrustedProxies = tp
	}
	if c.Addr == "" {
		if p := getenv("PORT"); p != "" {
			c.Addr = ":" + p
		} else {
			c.Addr = ":8080"
		}
	}
	if c.BaseURL == "" {
		c.BaseURL = "http://localhost" + portSuffix(c.Addr)
	}
	switch v := strings.ToLower(strings.TrimSpace(getenv("PARLEY_OPEN_SIGNUP"))); v {
	case "", "false", "0", "no":
	case "true", "1", "yes":
		c.OpenSignup = true
	default:
		return nil, &Error{"PARLEY_OPEN_SIGNUP", fmt.Sprintf("%q is not true or false", v)}
	}
	if c.LogLevel == "" {
		c.LogLevel = "info"
	}
	if c.BodyLimit == "" {
		c.BodyLimit = "1M"
	}
	if s := getenv("PARLEY_SWEEP_INTERVAL"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d < time.Second {
			return nil, &Error{"PARLEY_SWEEP_INTERVAL", fmt.Sprintf("%q is not a duration of at least 1s (for example 1m)", s)}
		}
		c.SweepInterval = d
	} else {
		c.SweepInterval = time.Minute
	}
	if s := strings.TrimSpace(getenv("PARLEY_LLM_TIMEOUT")); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, &Error{"PARLEY_LLM_TIMEOUT", fmt.Sprintf("%q is not a duration (for example 60s or 2m)", s)}
		}
		c.LLMTimeout = d
	}
	c.WhatsAppVerifyToken = strings.TrimSpace(getenv("PARLEY_WHATSAPP_VERIFY_TOKEN"))
	c.WhatsAppAppSecret = strings.TrimSpace(getenv("PARLEY_WHATSAPP_APP_SECRET"))
	c.WhatsAppGraphURL = strings.TrimRight(strings.TrimSpace(getenv("PARLEY_WHATSAPP_GRAPH_URL")), "/")
	if s := strings.TrimSpace(getenv("PARLEY_WHATSAPP_WINDOW")); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, &Error{"PARLEY_WHATSAPP_WINDOW", fmt.Sprintf("%q is not a duration (for example 24h or 2m)", s)}
		}
		c.WhatsAppWindow = d
	}
	if err := c.loadWidget(getenv); err != nil {
		return nil, err
	}
	if err := c.loadInbound(getenv); err != nil {
		return nil, err
	}
	if err := c.loadSession(getenv); err != nil {
		return nil, err
	}
	if err := c.loadMail(getenv); err != nil {
		return nil, err
	}
	var err error
	if c.WorkerConcurrency, err = intVar(getenv, "PARLEY_WORKER_CONCURRENCY", DefaultWorkerConcurrency, 1000, "jobs"); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

func portSuffix(addr string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" || port == "80" {
		return ""
	}
	return ":" + port
}

// Validate checks every field and returns an *Error naming the first wrong variable.
func (c *Config) Validate() error {
	if _, port, err := net.SplitHostPort(c.Addr); err != nil {
		return &Error{"PARLEY_ADDR", fmt.Sprintf("%q is not a listen address like :8080 or 127.0.0.1:8080", c.Addr)}
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return &Error{"PARLEY_ADDR", fmt.Sprintf("%q has no valid port", c.Addr)}
	}
	switch {
	case c.DatabaseURL == "":
		c.SQLitePath = "parley.db"
	case strings.HasPrefix(c.DatabaseURL, "postgres://"), strings.HasPrefix(c.DatabaseURL, "postgresql://"):
		u, err := url.Parse(c.DatabaseURL)
		if err != nil || u.Host == "" {
			return &Error{"DATABASE_URL", "is not a valid postgres:// URL (postgres://user@host:5432/db)"}
		}
	case strings.HasPrefix(c.DatabaseURL, "sqlite://"):
		p := strings.TrimPrefix(c.DatabaseURL, "sqlite://")
		if p == "" {
			return &Error{"DATABASE_URL", "sqlite:// needs a file path, as in sqlite:///var/lib/parley/parley.db"}
		}
		c.SQLitePath = p
	default:
		return &Error{"DATABASE_URL", "must start with postgres://, postgresql:// or sqlite://"}
	}
	if c.RedisURL != "" {
		u, err := url.Parse(c.RedisURL)
		if err != nil || (u.Scheme != "redis" && u.Scheme != "rediss") || u.Host == "" {
			return &Error{"REDIS_URL", "must be a redis:// or rediss:// URL, as in redis://127.0.0.1:6379/0"}
		}
	}
	if c.SecretKey != "" && len(c.SecretKey) < 32 {
		return &Error{"PARLEY_SECRET_KEY", "must be at least 32 characters (try: openssl rand -hex 32)"}
	}
	if c.SecretKey == "" && c.SQLitePath == "" {
		return &Error{"PARLEY_SECRET_KEY", "is required when DATABASE_URL points at PostgreSQL, so that every process shares it (try: openssl rand -hex 32)"}
	}
	if (c.AdminEmail == "") != (c.AdminPassword == "") {
		if c.AdminEmail == "" {
			return &Error{"PARLEY_ADMIN_EMAIL", "must be set together with PARLEY_ADMIN_PASSWORD"}
		}
		return &Error{"PARLEY_ADMIN_PASSWORD", "must be set together with PARLEY_ADMIN_EMAIL"}
	}
	if c.AdminEmail != "" && !LooksLikeEmail(c.AdminEmail) {
		return &Error{"PARLEY_ADMIN_EMAIL", fmt.Sprintf("%q is not an email address", c.AdminEmail)}
	}
	if c.AdminPassword != "" && len(c.AdminPassword) < 8 {
		return &Error{"PARLEY_ADMIN_PASSWORD", "must be at least 8 characters"}
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return &Error{"PARLEY_BASE_URL", fmt.Sprintf("%q is not an absolute http(s) URL", c.BaseURL)}
	}
	c.SecureCookies = u.Scheme == "https"
	switch c.LogFormat {
	case "":
		c.LogFormat = "text"
		if c.SQLitePath == "" {
			c.LogFormat = "json"
		}
	case "text", "json":
	default:
		return &Error{"PARLEY_LOG_FORMAT", "must be text or json"}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return &Error{"PARLEY_LOG_LEVEL", "must be debug, info, warn or error"}
	}
	if _, err := ParseBytes(c.BodyLimit); err != nil {
		return &Error{"PARLEY_BODY_LIMIT", err.Error()}
	}
	if err := c.validateWhatsApp(); err != nil {
		return err
	}
	if err := c.validateMetrics(); err != nil {
		return err
	}
	return c.validateLLM()
}

// validateWhatsApp checks the WhatsApp settings and fills their defaults.
func (c *Config) validateWhatsApp() error {
	if strings.IndexFunc(c.WhatsAppVerifyToken, isSpaceOrControl) >= 0 {
		return &Error{"PARLEY_WHATSAPP_VERIFY_TOKEN", "contains spaces or control characters"}
	}
	if strings.IndexFunc(c.WhatsAppAppSecret, isSpaceOrControl) >= 0 {
		return &Error{"PARLEY_WHATSAPP_APP_SECRET", "contains spaces or control characters; copy the app secret again"}
	}
	if c.WhatsAppGraphURL == "" {
		c.WhatsAppGraphURL = DefaultWhatsAppGraphURL
	}
	u, err := url.Parse(c.WhatsAppGraphURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return &Error{"PARLEY_WHATSAPP_GRAPH_URL", fmt.Sprintf("%q is not an http(s) base URL such as %s", c.WhatsAppGraphURL, DefaultWhatsAppGraphURL)}
	}
	if c.WhatsAppWindow == 0 {
		c.WhatsAppWindow = DefaultWhatsAppWindow
	}
	if c.WhatsAppWindow < time.Second || c.WhatsAppWindow > DefaultWhatsAppWindow {
		return &Error{"PARLEY_WHATSAPP_WINDOW", fmt.Sprintf("%s is outside 1s to 24h (Meta closes the window after 24 hours)", c.WhatsAppWindow)}
	}
	return nil
}

// parseTrustedProxies reads PARLEY_TRUSTED_PROXIES: addresses or CIDR ranges, comma-separated.
func parseTrustedProxies(raw string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		if !strings.Contains(part, "/") {
			ip := net.ParseIP(part)
			if ip == nil {
				return nil, &Error{"PARLEY_TRUSTED_PROXIES", fmt.Sprintf("%q is not an IP address or CIDR range (for example 10.0.0.0/8)", part)}
			}
			bits := 128
			if ip.To4() != nil {
				ip, bits = ip.To4(), 32
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(part)
		if err != nil {
			return nil, &Error{"PARLEY_TRUSTED_PROXIES", fmt.Sprintf("%q is not an IP address or CIDR range (for example 10.0.0.0/8)", part)}
		}
		out = append(out, n)
	}
	return out, nil
}

// validateMetrics checks the /metrics token and listen address.
func (c *Config) validateMetrics() error {
	if c.MetricsToken != "" {
		if strings.IndexFunc(c.MetricsToken, isSpaceOrControl) >= 0 {
			return &Error{"PARLEY_METRICS_TOKEN", "contains spaces or control characters"}
		}
		if len(c.MetricsToken) < 16 {
			return &Error{"PARLEY_METRICS_TOKEN", "must be at least 16 characters (try: openssl rand -hex 16)"}
		}
	}
	if c.MetricsAddr != "" {
		_, port, err := net.SplitHostPort(c.MetricsAddr)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			return &Error{"PARLEY_METRICS_ADDR", fmt.Sprintf("%q is not a listen address like :9090 or 127.0.0.1:9090", c.MetricsAddr)}
		}
		if c.MetricsAddr == c.Addr {
			return &Error{"PARLEY_METRICS_ADDR", fmt.Sprintf("%q is also PARLEY_ADDR: the metrics listener needs an address of its own", c.MetricsAddr)}
		}
	}
	return nil
}

// validateLLM checks the LLM and price settings and fills their defaults.
func (c *Config) validateLLM() error {
	if c.LLMBaseURL == "" {
		c.LLMBaseURL = DefaultLLMBaseURL
	}
	u, err := url.Parse(c.LLMBaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return &Error{"PARLEY_LLM_BASE_URL", fmt.Sprintf("%q is not an http(s) API base URL such as %s or http://localhost:11434/v1", c.LLMBaseURL, DefaultLLMBaseURL)}
	}
	if strings.IndexFunc(c.LLMAPIKey, isSpaceOrControl) >= 0 {
		return &Error{"PARLEY_LLM_API_KEY", "contains spaces or control characters; copy the key again"}
	}
	if c.LLMModel == "" {
		c.LLMModel = DefaultLLMModel
	}
	if strings.IndexFunc(c.LLMModel, isSpaceOrControl) >= 0 || len(c.LLMModel) > 200 {
		return &Error{"PARLEY_LLM_MODEL", fmt.Sprintf("%q is not a model name such as %s or llama3.1:8b", c.LLMModel, DefaultLLMModel)}
	}
	if c.LLMTimeout == 0 {
		c.LLMTimeout = DefaultLLMTimeout
	}
	if c.LLMTimeout < time.Second || c.LLMTimeout > time.Hour {
		return &Error{"PARLEY_LLM_TIMEOUT", fmt.Sprintf("%s is outside 1s to 1h", c.LLMTimeout)}
	}
	if strings.IndexFunc(c.PricesFile, unicode.IsControl) >= 0 || strings.Contains(c.PricesFile, "://") {
		return &Error{"PARLEY_PRICES_FILE", fmt.Sprintf("%q is not a file path", c.PricesFile)}
	}
	return nil
}

func isSpaceOrControl(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }

// OfflineLLM reports whether no API key is set, so the built-in offline provider answers.
func (c *Config) OfflineLLM() bool { return c.LLMAPIKey == "" }

// Embedded reports whether the database is the embedded SQLite file.
func (c *Config) Embedded() bool { return c.SQLitePath != "" }

// EnsureSecretKey fills SecretKey in the embedded mode: it reads the key file beside the
// database, or generates one and writes it (mode 0600) so sessions survive a restart.
func (c *Config) EnsureSecretKey() error {
	if c.SecretKey != "" {
		return nil
	}
	if c.SQLitePath == "" {
		return &Error{"PARLEY_SECRET_KEY", "is required with PostgreSQL"}
	}
	if c.SecretKeyFile == "" {
		c.SecretKeyFile = c.SQLitePath + ".secret"
	}
	b, err := os.ReadFile(c.SecretKeyFile)
	if err == nil {
		k := strings.TrimSpace(string(b))
		if len(k) < 32 {
			return &Error{"PARLEY_SECRET_KEY", fmt.Sprintf("the key file %s is too short; delete it to generate a new one", c.SecretKeyFile)}
		}
		c.SecretKey = k
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("read secret key file: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	k := hex.EncodeToString(raw)
	if dir := filepath.Dir(c.SecretKeyFile); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(c.SecretKeyFile, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) { // another process won the race: use its key
			return c.EnsureSecretKey()
		}
		return fmt.Errorf("write secret key file: %w", err)
	}
	if _, err := f.WriteString(k + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	c.SecretKey = k
	return nil
}

// LooksLikeEmail is a light syntactic check: one @, a dot in the domain, no spaces.
func LooksLikeEmail(s string) bool {
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 || strings.ContainsAny(s, " \t\r\n<>") || len(s) > 254 {
		return false
	}
	return strings.Contains(s[at+1:], ".")
}

// ParseBytes reads sizes such as 512K, 1M, 3MB or 1048576.
func ParseBytes(s string) (int64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(t, "B")
	mult := int64(1)
	switch {
	case strings.HasSuffix(t, "K"):
		mult, t = 1<<10, strings.TrimSuffix(t, "K")
	case strings.HasSuffix(t, "M"):
		mult, t = 1<<20, strings.TrimSuffix(t, "M")
	case strings.HasSuffix(t, "G"):
		mult, t = 1<<30, strings.TrimSuffix(t, "G")
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("%q is not a size like 512K or 1M", s)
	}
	return n * mult, nil
}

// DefaultWorkerConcurrency is how many jobs a worker process runs at once by default.
const DefaultWorkerConcurrency = 10

// Idle times: a conversation with no message for its type's idle time is ended.
const (
	DefaultWhatsAppIdle = 24 * time.Hour
	DefaultTestChatIdle = 30 * time.Minute
)

// Web widget defaults.
const (
	DefaultWidgetIdle         = 30 * time.Minute
	DefaultWidgetRateSessions = 30
	DefaultWidgetRateMessages = 60
)

// loadWidget reads the idle times of the conversation types and the web widget's rate
// limits.
func (c *Config) loadWidget(getenv func(string) string) error {
	var err error
	if c.WidgetIdle, err = idleVar(getenv, "PARLEY_WIDGET_IDLE", DefaultWidgetIdle); err != nil {
		return err
	}
	if c.WhatsAppIdle, err = idleVar(getenv, "PARLEY_WHATSAPP_IDLE", DefaultWhatsAppIdle); err != nil {
		return err
	}
	if c.TestChatIdle, err = idleVar(getenv, "PARLEY_TESTCHAT_IDLE", DefaultTestChatIdle); err != nil {
		return err
	}
	if c.WidgetRateSessions, err = intVar(getenv, "PARLEY_WIDGET_RATE_SESSIONS", DefaultWidgetRateSessions, 1000000, "requests per minute"); err != nil {
		return err
	}
	c.WidgetRateMessages, err = intVar(getenv, "PARLEY_WIDGET_RATE_MESSAGES", DefaultWidgetRateMessages, 1000000, "requests per minute")
	return err
}

// idleVar reads an idle time from 1m to 720h (def when unset).
func idleVar(getenv func(string) string, name string, def time.Duration) (time.Duration, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < time.Minute || d > 720*time.Hour {
		return 0, &Error{name, fmt.Sprintf("%q is not a duration from 1m to 720h (for example 30m)", s)}
	}
	return d, nil
}

// intVar reads a whole number from 1 to most (def when unset); anything else is an error
// naming the variable and the unit.
func intVar(getenv func(string) string, name string, def, most int, unit string) (int, error) {
	s := strings.TrimSpace(getenv(name))
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > most {
		return 0, &Error{name, fmt.Sprintf("%q is not a whole number of %s from 1 to %d", s, unit, most)}
	}
	return n, nil
}
