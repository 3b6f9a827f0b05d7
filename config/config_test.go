package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestLoadDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":8080" || c.SQLitePath != "parley.db" || c.RedisURL != "" || c.BaseURL != "http://localhost:8080" {
		t.Fatalf("defaults: %+v", c)
	}
	if !c.Embedded() || c.LogFormat != "text" || c.SecureCookies {
		t.Fatalf("embedded defaults: %+v", c)
	}
}

func TestLoadPortAndPostgres(t *testing.T) {
	c, err := Load(env(map[string]string{
		"PORT":              "9000",
		"DATABASE_URL":      "postgres://u@db:5432/parley?sslmode=disable",
		"PARLEY_SECRET_KEY": strings.Repeat("k", 32),
		"PARLEY_BASE_URL":   "https://chat.example.com/",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != ":9000" || c.Embedded() || c.BaseURL != "https://chat.example.com" || !c.SecureCookies || c.LogFormat != "json" {
		t.Fatalf("got %+v", c)
	}
	c, err = Load(env(map[string]string{"PORT": "9000", "PARLEY_ADDR": "127.0.0.1:7000"}))
	if err != nil || c.Addr != "127.0.0.1:7000" {
		t.Fatalf("PARLEY_ADDR must win over PORT: %v %+v", err, c)
	}
}

func TestLoadErrorsNameTheVariable(t *testing.T) {
	key := strings.Repeat("k", 32)
	cases := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad addr", map[string]string{"PARLEY_ADDR": "nonsense"}, "PARLEY_ADDR"},
		{"bad proxy", map[string]string{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/8,proxy.local"}, "PARLEY_TRUSTED_PROXIES"},
		{"bad proxy range", map[string]string{"PARLEY_TRUSTED_PROXIES": "10.0.0.0/33"}, "PARLEY_TRUSTED_PROXIES"},
		{"bad port", map[string]string{"PARLEY_ADDR": ":99999"}, "PARLEY_ADDR"},
		{"bad PORT", map[string]string{"PORT": "abc"}, "PARLEY_ADDR"},
		{"bad database scheme", map[string]string{"DATABASE_URL": "mysql://x"}, "DATABASE_URL"},
		{"postgres without host", map[string]string{"DATABASE_URL": "postgres://", "PARLEY_SECRET_KEY": key}, "DATABASE_URL"},
		{"empty sqlite path", map[string]string{"DATABASE_URL": "sqlite://"}, "DATABASE_URL"},
		{"bad redis", map[string]string{"REDIS_URL": "http://localhost"}, "REDIS_URL"},
		{"short secret", map[string]string{"PARLEY_SECRET_KEY": "short"}, "PARLEY_SECRET_KEY"},
		{"postgres without secret", map[string]string{"DATABASE_URL": "postgres://u@h/db"}, "PARLEY_SECRET_KEY"},
		{"email without password", map[string]string{"PARLEY_ADMIN_EMAIL": "a@b.co"}, "PARLEY_ADMIN_PASSWORD"},
		{"password without email", map[string]string{"PARLEY_ADMIN_PASSWORD": "12345678"}, "PARLEY_ADMIN_EMAIL"},
		{"bad email", map[string]string{"PARLEY_ADMIN_EMAIL": "nope", "PARLEY_ADMIN_PASSWORD": "12345678"}, "PARLEY_ADMIN_EMAIL"},
		{"short password", map[string]string{"PARLEY_ADMIN_EMAIL": "a@b.co", "PARLEY_ADMIN_PASSWORD": "1234"}, "PARLEY_ADMIN_PASSWORD"},
		{"relative base url", map[string]string{"PARLEY_BASE_URL": "example.com"}, "PARLEY_BASE_URL"},
		{"bad log format", map[string]string{"PARLEY_LOG_FORMAT": "xml"}, "PARLEY_LOG_FORMAT"},
		{"bad log level", map[string]string{"PARLEY_LOG_LEVEL": "loud"}, "PARLEY_LOG_LEVEL"},
		{"bad body limit", map[string]string{"PARLEY_BODY_LIMIT": "lots"}, "PARLEY_BODY_LIMIT"},
		{"bad sweep interval", map[string]string{"PARLEY_SWEEP_INTERVAL": "10ms"}, "PARLEY_SWEEP_INTERVAL"},
		{"bad metrics addr", map[string]string{"PARLEY_METRICS_ADDR": "metrics"}, "PARLEY_METRICS_ADDR"},
		{"bad metrics port", map[string]string{"PARLEY_METRICS_ADDR": ":70000"}, "PARLEY_METRICS_ADDR"},
		{"metrics addr is the web addr", map[string]string{"PARLEY_ADDR": ":9000", "PARLEY_METRICS_ADDR": ":9000"}, "PARLEY_METRICS_ADDR"},
		{"short metrics token", map[string]string{"PARLEY_METRICS_TOKEN": "short"}, "PARLEY_METRICS_TOKEN"},
		{"metrics token with spaces", map[string]string{"PARLEY_METRICS_TOKEN": "a token with spaces inside"}, "PARLEY_METRICS_TOKEN"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(tc.env))
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			if ce.Var != tc.want || !strings.HasPrefix(err.Error(), tc.want+": ") {
				t.Fatalf("error names %q (%v), want %q", ce.Var, err, tc.want)
			}
		})
	}
}

func TestEnsureSecretKeyPersists(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "data", "parley.db")
	c1, err := Load(env(map[string]string{"DATABASE_URL": "sqlite://" + db}))
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.EnsureSecretKey(); err != nil {
		t.Fatal(err)
	}
	if len(c1.SecretKey) < 32 {
		t.Fatalf("generated key too short: %q", c1.SecretKey)
	}
	st, err := os.Stat(db + ".secret")
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	c2, _ := Load(env(map[string]string{"DATABASE_URL": "sqlite://" + db}))
	if err := c2.EnsureSecretKey(); err != nil {
		t.Fatal(err)
	}
	if c2.SecretKey != c1.SecretKey {
		t.Fatal("a restart must reuse the stored key, so sessions survive")
	}
	// An explicit key wins and writes nothing.
	c3, _ := Load(env(map[string]string{"DATABASE_URL": "sqlite://" + filepath.Join(dir, "other.db"), "PARLEY_SECRET_KEY": strings.Repeat("x", 40)}))
	if err := c3.EnsureSecretKey(); err != nil || c3.SecretKey != strings.Repeat("x", 40) {
		t.Fatalf("explicit key: %v %q", err, c3.SecretKey)
	}
	if _, err := os.Stat(filepath.Join(dir, "other.db.secret")); !os.IsNotExist(err) {
		t.Fatal("no key file may be written when PARLEY_SECRET_KEY is set")
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"1M": 1 << 20, "3MB": 3 << 20, "512K": 512 << 10, "100": 100, "2g": 2 << 30} {
		got, err := ParseBytes(in)
		if err != nil || got != want {
			t.Errorf("ParseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1M", "M", "1T"} {
		if _, err := ParseBytes(in); err == nil {
			t.Errorf("ParseBytes(%q) should fail", in)
		}
	}
}

func TestLoadLLMDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.LLMBaseURL != DefaultLLMBaseURL || c.LLMModel != DefaultLLMModel || c.LLMTimeout != DefaultLLMTimeout || c.LLMAPIKey != "" || c.PricesFile != "" {
		t.Fatalf("LLM defaults: %+v", c)
	}
	if !c.OfflineLLM() {
		t.Fatal("no API key must select the offline provider")
	}
}

// TestLoadLLMVariables has one valid and one invalid case for each LLM and price variable.
func TestLoadLLMVariables(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		check   func(c *Config) bool
		wantErr string // the variable the error must name; empty: must load
	}{
		{"base url", map[string]string{"PARLEY_LLM_BASE_URL": " http://localhost:11434/v1/ "},
			func(c *Config) bool { return c.LLMBaseURL == "http://localhost:11434/v1" }, ""},
		{"base url not http", map[string]string{"PARLEY_LLM_BASE_URL": "localhost:11434"}, nil, "PARLEY_LLM_BASE_URL"},
		{"base url with query", map[string]string{"PARLEY_LLM_BASE_URL": "https://api.example.com/v1?x=1"}, nil, "PARLEY_LLM_BASE_URL"},
		{"api key", map[string]string{"PARLEY_LLM_API_KEY": " sk-test-123\n"},
			func(c *Config) bool { return c.LLMAPIKey == "sk-test-123" && !c.OfflineLLM() }, ""},
		{"api key with space", map[string]string{"PARLEY_LLM_API_KEY": "sk-test 123"}, nil, "PARLEY_LLM_API_KEY"},
		{"model", map[string]string{"PARLEY_LLM_MODEL": "llama3.1:8b"},
			func(c *Config) bool { return c.LLMModel == "llama3.1:8b" }, ""},
		{"model with space", map[string]string{"PARLEY_LLM_MODEL": "gpt 4o"}, nil, "PARLEY_LLM_MODEL"},
		{"timeout", map[string]string{"PARLEY_LLM_TIMEOUT": "2m"},
			func(c *Config) bool { return c.LLMTimeout == 2*time.Minute }, ""},
		{"timeout not a duration", map[string]string{"PARLEY_LLM_TIMEOUT": "soon"}, nil, "PARLEY_LLM_TIMEOUT"},
		{"timeout too short", map[string]string{"PARLEY_LLM_TIMEOUT": "10ms"}, nil, "PARLEY_LLM_TIMEOUT"},
		{"timeout too long", map[string]string{"PARLEY_LLM_TIMEOUT": "2h"}, nil, "PARLEY_LLM_TIMEOUT"},
		{"prices file", map[string]string{"PARLEY_PRICES_FILE": " /etc/parley/prices.json "},
			func(c *Config) bool { return c.PricesFile == "/etc/parley/prices.json" }, ""},
		{"prices file as url", map[string]string{"PARLEY_PRICES_FILE": "https://example.com/prices.json"}, nil, "PARLEY_PRICES_FILE"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(tc.env))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				if !tc.check(c) {
					t.Fatalf("unexpected config: %+v", c)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("want *config.Error, got %v", err)
			}
			if ce.Var != tc.wantErr || !strings.HasPrefix(err.Error(), tc.wantErr+": ") {
				t.Fatalf("error names %q (%v), want %q", ce.Var, err, tc.wantErr)
			}
			if strings.Contains(err.Error(), "sk-test") {
				t.Fatalf("the error must not repeat the API key: %v", err)
			}
		})
	}
}

func TestLoadWhatsAppDefaults(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.WhatsAppGraphURL != "https://graph.facebook.com/v21.0" || c.WhatsAppWindow != 24*time.Hour || c.WhatsAppVerifyToken != "" || c.WhatsAppAppSecret != "" {
		t.Fatalf("whatsapp defaults: %+v", c)
	}
}

func TestLoadWhatsAppVariables(t *testing.T) {
	c, err := Load(env(map[string]string{
		"PARLEY_WHATSAPP_VERIFY_TOKEN": " verify-me ",
		"PARLEY_WHATSAPP_APP_SECRET":   "app-secret",
		"PARLEY_WHATSAPP_GRAPH_URL":    "http://127.0.0.1:9999/v21.0/",
		"PARLEY_WHATSAPP_WINDOW":       "2s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.WhatsAppVerifyToken != "verify-me" || c.WhatsAppAppSecret != "app-secret" || c.WhatsAppGraphURL != "http://127.0.0.1:9999/v21.0" || c.WhatsAppWindow != 2*time.Second {
		t.Fatalf("got %+v", c)
	}
	for _, tc := range []struct{ name, k, v string }{
		{"window not a duration", "PARLEY_WHATSAPP_WINDOW", "a day"},
		{"window too long", "PARLEY_WHATSAPP_WINDOW", "25h"},
		{"window too short", "PARLEY_WHATSAPP_WINDOW", "10ms"},
		{"graph url relative", "PARLEY_WHATSAPP_GRAPH_URL", "graph.facebook.com/v21.0"},
		{"graph url scheme", "PARLEY_WHATSAPP_GRAPH_URL", "ftp://graph.facebook.com"},
		{"secret with space", "PARLEY_WHATSAPP_APP_SECRET", "two words"},
		{"token with space", "PARLEY_WHATSAPP_VERIFY_TOKEN", "two words"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Load(env(map[string]string{tc.k: tc.v}))
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tc.k {
				t.Fatalf("want an error naming %s, got %v", tc.k, err)
			}
		})
	}
	names := map[string]bool{}
	for _, v := range Vars {
		names[v.Name] = true
	}
	for _, n := range []string{"PARLEY_WHATSAPP_VERIFY_TOKEN", "PARLEY_WHATSAPP_APP_SECRET", "PARLEY_WHATSAPP_GRAPH_URL", "PARLEY_WHATSAPP_WINDOW"} {
		if !names[n] {
			t.Errorf("%s is not documented in Vars", n)
		}
	}
}

// TestLoadWidgetVariables has the defaults and one valid and one invalid case for each web
// widget variable.
func TestLoadWidgetVariables(t *testing.T) {
	c, err := Load(env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.WidgetIdle != 30*time.Minute || c.WidgetRateSessions != 30 || c.WidgetRateMessages != 60 {
		t.Fatalf("widget defaults: idle %s, sessions %d, messages %d", c.WidgetIdle, c.WidgetRateSessions, c.WidgetRateMessages)
	}
	cases := []struct {
		name    string
		env     map[string]string
		check   func(c *Config) bool
		wantErr string
	}{
		{"idle", map[string]string{"PARLEY_WIDGET_IDLE": "45m"}, func(c *Config) bool { return c.WidgetIdle == 45*time.Minute }, ""},
		{"idle too short", map[string]string{"PARLEY_WIDGET_IDLE": "5s"}, nil, "PARLEY_WIDGET_IDLE"},
		{"idle not a duration", map[string]string{"PARLEY_WIDGET_IDLE": "half an hour"}, nil, "PARLEY_WIDGET_IDLE"},
		{"whatsapp idle default", nil, func(c *Config) bool { return c.WhatsAppIdle == 24*time.Hour }, ""},
		{"whatsapp idle", map[string]string{"PARLEY_WHATSAPP_IDLE": " 2h "}, func(c *Config) bool { return c.WhatsAppIdle == 2*time.Hour }, ""},
		{"whatsapp idle too short", map[string]string{"PARLEY_WHATSAPP_IDLE": "30s"}, nil, "PARLEY_WHATSAPP_IDLE"},
		{"whatsapp idle too long", map[string]string{"PARLEY_WHATSAPP_IDLE": "721h"}, nil, "PARLEY_WHATSAPP_IDLE"},
		{"whatsapp idle not a duration", map[string]string{"PARLEY_WHATSAPP_IDLE": "1 day"}, nil, "PARLEY_WHATSAPP_IDLE"},
		{"test chat idle default", nil, func(c *Config) bool { return c.TestChatIdle == 30*time.Minute }, ""},
		{"test chat idle", map[string]string{"PARLEY_TESTCHAT_IDLE": "5m"}, func(c *Config) bool { return c.TestChatIdle == 5*time.Minute }, ""},
		{"test chat idle zero", map[string]string{"PARLEY_TESTCHAT_IDLE": "0"}, nil, "PARLEY_TESTCHAT_IDLE"},
		{"test chat idle negative", map[string]string{"PARLEY_TESTCHAT_IDLE": "-5m"}, nil, "PARLEY_TESTCHAT_IDLE"},
		{"session rate", map[string]string{"PARLEY_WIDGET_RATE_SESSIONS": "5"}, func(c *Config) bool { return c.WidgetRateSessions == 5 }, ""},
		{"session rate zero", map[string]string{"PARLEY_WIDGET_RATE_SESSIONS": "0"}, nil, "PARLEY_WIDGET_RATE_SESSIONS"},
		{"message rate", map[string]string{"PARLEY_WIDGET_RATE_MESSAGES": " 120 "}, func(c *Config) bool { return c.WidgetRateMessages == 120 }, ""},
		{"message rate not a number", map[string]string{"PARLEY_WIDGET_RATE_MESSAGES": "60/m"}, nil, "PARLEY_WIDGET_RATE_MESSAGES"},
		{"worker concurrency default", nil, func(c *Config) bool { return c.WorkerConcurrency == 10 }, ""},
		{"worker concurrency", map[string]string{"PARLEY_WORKER_CONCURRENCY": " 64 "}, func(c *Config) bool { return c.WorkerConcurrency == 64 }, ""},
		{"worker concurrency zero", map[string]string{"PARLEY_WORKER_CONCURRENCY": "0"}, nil, "PARLEY_WORKER_CONCURRENCY"},
		{"worker concurrency too many", map[string]string{"PARLEY_WORKER_CONCURRENCY": "1001"}, nil, "PARLEY_WORKER_CONCURRENCY"},
		{"worker concurrency not a number", map[string]string{"PARLEY_WORKER_CONCURRENCY": "ten"}, nil, "PARLEY_WORKER_CONCURRENCY"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Load(env(tc.env))
			if tc.wantErr == "" {
				if err != nil || !tc.check(c) {
					t.Fatalf("got %v %+v", err, c)
				}
				return
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.Var != tc.wantErr || !strings.HasPrefix(err.Error(), tc.wantErr+": ") {
				t.Fatalf("want an error naming %s, got %v", tc.wantErr, err)
			}
		})
	}
}

func TestLoadTrustedProxies(t *testing.T) {
	c, err := Load(func(k string) string {
		return map[string]string{"PARLEY_TRUSTED_PROXIES": " 10.0.0.0/8, 127.0.0.1 ,::1,"}[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range c.TrustedProxies {
		got = append(got, n.String())
	}
	if strings.Join(got, " ") != "10.0.0.0/8 127.0.0.1/32 ::1/128" {
		t.Fatalf("trusted proxies %v", got)
	}
	if c, _ := Load(func(string) string { return "" }); len(c.TrustedProxies) != 0 {
		t.Fatalf("default trusted proxies %v", c.TrustedProxies)
	}
}
