package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
)

// FakeSMTP is a real SMTP server (github.com/emersion/go-smtp) on 127.0.0.1 for one test: it
// requires the user and password of its URL (PLAIN), offers STARTTLS when made with
// NewFakeSMTPTLS, and records every message it accepts: the envelope and the raw data. Tests
// point PARLEY_SMTP_URL at URL and assert on Messages.
type FakeSMTP struct {
	Addr string
	// URL is smtp://parley:secret@ADDR, what PARLEY_SMTP_URL should be.
	URL string
	// ClientTLS trusts the server's certificate (NewFakeSMTPTLS); nil without TLS.
	ClientTLS *tls.Config

	mu      sync.Mutex
	msgs    []SMTPMessage
	fail    []error
	arrived chan struct{}
}

// SMTPMessage is one message the server accepted.
type SMTPMessage struct {
	From string
	To   []string
	Data []byte
	// User is who authenticated; TLS says whether the connection was encrypted (STARTTLS).
	User string
	TLS  bool
}

// The credentials the fake server accepts.
const (
	FakeSMTPUser     = "parley"
	FakeSMTPPassword = "secret"
)

// NewFakeSMTP starts a plain SMTP server (no STARTTLS) until the test ends.
func NewFakeSMTP(t testing.TB) *FakeSMTP { return newFakeSMTP(t, nil, "127.0.0.1:0") }

// NewFakeSMTPAt starts a plain SMTP server listening on addr (another loopback address,
// 127.0.0.2:0, is a server that is not "localhost" to a client).
func NewFakeSMTPAt(t testing.TB, addr string) *FakeSMTP { return newFakeSMTP(t, nil, addr) }

// NewFakeSMTPTLS starts an SMTP server that offers STARTTLS with a certificate for 127.0.0.1
// that ClientTLS trusts.
func NewFakeSMTPTLS(t testing.TB) *FakeSMTP {
	t.Helper()
	cert, pool := selfSigned(t)
	f := newFakeSMTP(t, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, "127.0.0.1:0")
	f.ClientTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	return f
}

func newFakeSMTP(t testing.TB, tc *tls.Config, addr string) *FakeSMTP {
	t.Helper()
	f := &FakeSMTP{arrived: make(chan struct{}, 1000)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		_, tlsOn := c.TLSConnectionState()
		return &fakeSMTPSession{f: f, conn: c, tls: tlsOn}, nil
	}))
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = tc == nil
	srv.TLSConfig = tc
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	f.Addr = l.Addr().String()
	f.URL = "smtp://" + FakeSMTPUser + ":" + FakeSMTPPassword + "@" + f.Addr
	return f
}

// FailNext makes the server refuse the next message's data with err (an *smtp.SMTPError such
// as &smtp.SMTPError{Code: 451, Message: "try later"} or a 5xx).
func (f *FakeSMTP) FailNext(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = append(f.fail, err)
}

// Messages are the messages accepted so far, in order.
func (f *FakeSMTP) Messages() []SMTPMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SMTPMessage(nil), f.msgs...)
}

// Wait waits until at least n messages have arrived (failing the test after timeout) and
// returns them.
func (f *FakeSMTP) Wait(t testing.TB, n int, timeout time.Duration) []SMTPMessage {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if m := f.Messages(); len(m) >= n {
			return m
		}
		select {
		case <-f.arrived:
		case <-deadline:
			t.Fatalf("FakeSMTP: %d messages after %s, want %d", len(f.Messages()), timeout, n)
		}
	}
}

type fakeSMTPSession struct {
	f    *FakeSMTP
	conn *smtp.Conn
	tls  bool
	user string
	msg  SMTPMessage
}

func (s *fakeSMTPSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *fakeSMTPSession) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(identity, username, password string) error {
		if username != FakeSMTPUser || password != FakeSMTPPassword {
			return smtp.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *fakeSMTPSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user == "" {
		return smtp.ErrAuthRequired
	}
	_, s.tls = s.conn.TLSConnectionState()
	s.msg = SMTPMessage{From: from, User: s.user, TLS: s.tls}
	return nil
}

func (s *fakeSMTPSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.msg.To = append(s.msg.To, to)
	return nil
}

func (s *fakeSMTPSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f := s.f
	f.mu.Lock()
	if len(f.fail) > 0 {
		err := f.fail[0]
		f.fail = f.fail[1:]
		f.mu.Unlock()
		return err
	}
	s.msg.Data = b
	f.msgs = append(f.msgs, s.msg)
	f.mu.Unlock()
	select {
	case f.arrived <- struct{}{}:
	default:
	}
	return nil
}

func (s *fakeSMTPSession) Reset()        { s.msg = SMTPMessage{} }
func (s *fakeSMTPSession) Logout() error { return nil }

// selfSigned is a certificate for 127.0.0.1 and localhost, and a pool that trusts it.
func selfSigned(t testing.TB) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "FakeSMTP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA: true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tpl, tpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: c}, pool
}
