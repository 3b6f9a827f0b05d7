package config

import (
	"fmt"
	"net"
	"net/mail"
	"net/url"
	"strconv"
	"strings"
)

// SMTP is the outgoing mail server of PARLEY_SMTP_URL.
type SMTP struct {
	Host     string
	Port     int
	Username string // "" when the URL carries no user: no authentication
	Password string
	// ImplicitTLS is smtps://: TLS from the first byte (port 465 by default). smtp:// (port
	// 587 by default) upgrades with STARTTLS when the server offers it.
	ImplicitTLS bool
}

// String is the server as a log line or doctor may show it: never the password.
func (s *SMTP) String() string {
	if s == nil {
		return "not configured"
	}
	scheme := "smtp"
	if s.ImplicitTLS {
		scheme = "smtps"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(s.Host, strconv.Itoa(s.Port))}
	if s.Username != "" {
		u.User = url.User(s.Username)
	}
	return u.String()
}

// loadMail reads PARLEY_SMTP_URL and PARLEY_MAIL_FROM. An unset URL leaves mail off (SMTP
// nil); a set one must be a valid smtp:// or smtps:// URL and needs a sender address.
func (c *Config) loadMail(getenv func(string) string) error {
	raw := strings.TrimSpace(getenv("PARLEY_SMTP_URL"))
	from := strings.TrimSpace(getenv("PARLEY_MAIL_FROM"))
	if raw == "" {
		if from != "" {
			if _, err := mail.ParseAddress(from); err != nil {
				return &Error{"PARLEY_MAIL_FROM", fmt.Sprintf("%q is not an email address (for example Parley <parley@example.com>)", from)}
			}
		}
		c.MailFrom = from
		return nil
	}
	s, err := ParseSMTPURL(raw)
	if err != nil {
		return &Error{"PARLEY_SMTP_URL", err.Error()}
	}
	if from == "" {
		return &Error{"PARLEY_MAIL_FROM", "is required when PARLEY_SMTP_URL is set: the sender of Parley's mail (for example Parley <parley@example.com>)"}
	}
	a, err := mail.ParseAddress(from)
	if err != nil {
		return &Error{"PARLEY_MAIL_FROM", fmt.Sprintf("%q is not an email address (for example Parley <parley@example.com>)", from)}
	}
	c.SMTP, c.MailFrom = s, a.String()
	return nil
}

// ParseSMTPURL reads smtp://[user[:password]@]host[:port] (STARTTLS when offered, port 587 by
// default) or smtps://... (implicit TLS, port 465 by default). The error does not repeat the
// URL, which may hold a password.
func ParseSMTPURL(raw string) (*SMTP, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("is not a URL such as smtp://user:pass@mail.example.com:587")
	}
	s := &SMTP{}
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		s.Port = 587
	case "smtps":
		s.Port, s.ImplicitTLS = 465, true
	default:
		return nil, fmt.Errorf("must start with smtp:// (STARTTLS when the server offers it) or smtps:// (implicit TLS), as in smtp://user:pass@mail.example.com:587")
	}
	s.Host = u.Hostname()
	if s.Host == "" || u.Opaque != "" {
		return nil, fmt.Errorf("names no host: write it as smtp://user:pass@mail.example.com:587")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("must be only scheme, user, password, host and port (no path or query)")
	}
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, fmt.Errorf("has no valid port (1 to 65535)")
		}
		s.Port = n
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
		if s.Username == "" {
			return nil, fmt.Errorf("has a password but no user name")
		}
	}
	return s, nil
}

// MailEnabled reports whether Parley can send mail (PARLEY_SMTP_URL is set).
func (c *Config) MailEnabled() bool { return c.SMTP != nil }
