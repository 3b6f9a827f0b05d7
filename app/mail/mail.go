// Package mail sends Parley's email (issue 13): password reset links, invites. Sending is a
// promise kept by the database: Enqueue writes the message as an outgoing_mail row and asks
// for a worker task (Notify, wired by the container to workers.Tasks.MailSend); the task calls
// Deliver, which sends through the SMTP server of PARLEY_SMTP_URL with
// github.com/wneessen/go-mail and retries with a growing delay; a sweep (workers' mail:sweep)
// re-enqueues rows whose task Redis lost. Bodies never reach a log or a task payload (the
// payload is the row's id), and they are blanked in the row once it is done, since they may
// hold one-time links.
//
// It owns these rules; it may import the store and config, never app/web, views or workers.
package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"

	"github.com/parleyhq/parley/app/store"
	"github.com/parleyhq/parley/config"
)

// MaxAttempts is how many times one message is tried before it is given up.
const MaxAttempts = 10

// ErrNotConfigured: PARLEY_SMTP_URL is unset, nothing can be sent.
var ErrNotConfigured = errors.New("mail is not configured: set PARLEY_SMTP_URL and PARLEY_MAIL_FROM")

// ErrGaveUp is returned by Deliver when the message has failed for good (a permanent refusal
// by the server, or MaxAttempts reached): retrying would not help.
var ErrGaveUp = errors.New("mail: given up")

// Service queues and sends mail.
type Service struct {
	Store *store.Store
	// SMTP is the server (nil: mail is not configured); From the sender (PARLEY_MAIL_FROM).
	SMTP *config.SMTP
	From string
	Log  *slog.Logger
	// Notify asks for the send task of a stored message (the container sets it); nil, or a
	// failure, leaves the message to the sweep.
	Notify func(ctx context.Context, m *store.OutgoingMail) error
	// TLSConfig replaces the TLS settings of the connection (tests trust their server's
	// certificate with it); nil: the system's roots and the server's host name.
	TLSConfig *tls.Config
	// Timeout bounds one attempt (default 30 s). Now is the clock (time.Now when nil).
	Timeout time.Duration
	Now     func() time.Time
}

// New builds the service of a configuration.
func New(st *store.Store, cfg *config.Config, log *slog.Logger) *Service {
	return &Service{Store: st, SMTP: cfg.SMTP, From: cfg.MailFrom, Log: log}
}

// Enabled reports whether mail can be sent (PARLEY_SMTP_URL is set).
func (s *Service) Enabled() bool { return s != nil && s.SMTP != nil && s.From != "" }

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Service) log() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Service) timeout() time.Duration {
	if s.Timeout > 0 {
		return s.Timeout
	}
	return 30 * time.Second
}

// Message is one email to queue.
type Message struct {
	To      string
	Subject string
	Text    string // the plain-text body (required)
	HTML    string // an HTML alternative ("" for none)
	// Kind names what the mail is for ("password_reset", "invite"), for support; WorkspaceID
	// the workspace it is about (0: none).
	Kind        string
	WorkspaceID int64
}

// ValidAddress reports whether to is one plain email address (no display name, no list).
func ValidAddress(to string) bool {
	a, err := netmail.ParseAddress(to)
	return err == nil && a.Name == "" && a.Address == strings.TrimSpace(to) && strings.Contains(a.Address, "@")
}

// Enqueue queues a message to one address: textBody is required, htmlBody may be "". It
// answers ErrNotConfigured when mail is off, and an error for a malformed address or subject.
func (s *Service) Enqueue(ctx context.Context, to, subject, textBody, htmlBody string) error {
	_, err := s.EnqueueMessage(ctx, Message{To: to, Subject: subject, Text: textBody, HTML: htmlBody})
	return err
}

// EnqueueMessage stores m as a pending message and asks for its send task; it returns the
// message's id. The message is sent by a worker, so a failure of the SMTP server shows in the
// row (attempts, last_error), never in the caller.
func (s *Service) EnqueueMessage(ctx context.Context, m Message) (int64, error) {
	if !s.Enabled() {
		return 0, ErrNotConfigured
	}
	to := strings.TrimSpace(m.To)
	if !ValidAddress(to) {
		return 0, fmt.Errorf("mail: %q is not one email address", to)
	}
	if strings.ContainsAny(m.Subject, "\r\n") || strings.TrimSpace(m.Subject) == "" {
		return 0, errors.New("mail: the subject must be one non-empty line")
	}
	if strings.TrimSpace(m.Text) == "" {
		return 0, errors.New("mail: the text body is required")
	}
	row := &store.OutgoingMail{From: s.From, To: to, Subject: m.Subject, TextBody: m.Text, HTMLBody: m.HTML, Kind: m.Kind,
		// The sweep leaves the row to its own task for a minute.
		DueAt: s.now().Add(time.Minute)}
	if m.WorkspaceID > 0 {
		ws := m.WorkspaceID
		row.WorkspaceID = &ws
	}
	if err := s.Store.AddMail(ctx, row); err != nil {
		return 0, err
	}
	if s.Notify != nil {
		if err := s.Notify(ctx, row); err != nil {
			s.log().WarnContext(ctx, "mail: enqueueing the send task failed; the sweep will send it", "mail_id", row.ID, "err", err)
		}
	}
	return row.ID, nil
}

// Deliver sends the pending message id once: nil when it is sent, or was done (or gone)
// already, or another attempt holds it; the send's error (to retry) when it failed and will
// be tried again; an error wrapping ErrGaveUp when it has failed for good.
func (s *Service) Deliver(ctx context.Context, id int64) error {
	if !s.Enabled() {
		return ErrNotConfigured
	}
	m, err := s.Store.MailByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if m.State != store.MailPending {
		return nil
	}
	now := s.now()
	ok, err := s.Store.ClaimMail(ctx, id, now, now.Add(s.timeout()+30*time.Second))
	if err != nil || !ok {
		return err
	}
	sendErr := s.send(ctx, m)
	if sendErr == nil {
		if err := s.Store.MailSent(ctx, id); err != nil {
			return err
		}
		s.log().InfoContext(ctx, "mail sent", "mail_id", id, "kind", m.Kind)
		return nil
	}
	attempts := m.Attempts + 1
	giveUp := permanent(sendErr) || attempts >= MaxAttempts
	next := now.Add(min(30*time.Second<<min(attempts, 10), time.Hour))
	if err := s.Store.MailAttemptFailed(ctx, id, sendErr.Error(), next, giveUp); err != nil {
		return err
	}
	if giveUp {
		s.log().ErrorContext(ctx, "mail failed for good", "mail_id", id, "kind", m.Kind, "attempts", attempts, "err", sendErr)
		return fmt.Errorf("%w: %v", ErrGaveUp, sendErr)
	}
	return sendErr
}

// permanent reports a refusal that retrying will not change: a 5xx answer from the server.
func permanent(err error) bool {
	var se *gomail.SendError
	if errors.As(err, &se) {
		code := se.ErrorCode()
		return code >= 500 && code < 600
	}
	return false
}

// send makes one SMTP connection and sends m.
func (s *Service) send(ctx context.Context, m *store.OutgoingMail) error {
	msg := gomail.NewMsg()
	if err := msg.From(m.From); err != nil {
		return fmt.Errorf("mail: sender: %w", err)
	}
	if err := msg.To(m.To); err != nil {
		return fmt.Errorf("mail: recipient: %w", err)
	}
	msg.Subject(m.Subject)
	msg.SetDate()
	msg.SetMessageID()
	msg.SetBodyString(gomail.TypeTextPlain, m.TextBody)
	if m.HTMLBody != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTMLBody)
	}
	c, err := s.client()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout())
	defer cancel()
	return c.DialAndSendWithContext(ctx, msg)
}

// client is a go-mail client for the configured server: implicit TLS for smtps://, STARTTLS
// when the server offers it for smtp:// (a certificate that does not verify fails the send);
// authentication when the URL has a user: the strongest mechanism the server offers, PLAIN
// and LOGIN only over TLS, or PLAIN to localhost.
func (s *Service) client() (*gomail.Client, error) {
	sc := s.SMTP
	opts := []gomail.Option{gomail.WithPort(sc.Port), gomail.WithTimeout(s.timeout())}
	if sc.ImplicitTLS {
		opts = append(opts, gomail.WithSSL())
	} else {
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	tc := &tls.Config{ServerName: sc.Host, MinVersion: tls.VersionTLS12}
	if s.TLSConfig != nil {
		tc = s.TLSConfig.Clone()
		if tc.ServerName == "" {
			tc.ServerName = sc.Host
		}
	}
	opts = append(opts, gomail.WithTLSConfig(tc))
	if sc.Username != "" {
		// go-mail's discovery uses PLAIN and LOGIN over TLS only; to a server on this machine
		// (a local relay) PLAIN goes in clear, which go-mail allows for localhost alone.
		mech := gomail.SMTPAuthAutoDiscover
		if sc.Host == "localhost" || sc.Host == "127.0.0.1" || sc.Host == "::1" {
			mech = gomail.SMTPAuthPlain
		}
		opts = append(opts, gomail.WithSMTPAuth(mech), gomail.WithUsername(sc.Username), gomail.WithPassword(sc.Password))
	}
	return gomail.NewClient(sc.Host, opts...)
}
