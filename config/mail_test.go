package config

import (
	"errors"
	"strings"
	"testing"
)

func TestMailConfig(t *testing.T) {
	load := func(env map[string]string) (*Config, error) {
		return Load(func(k string) string { return env[k] })
	}
	c, err := load(nil)
	if err != nil || c.MailEnabled() || c.SMTP != nil {
		t.Fatalf("unset: %+v %v", c.SMTP, err)
	}
	for raw, want := range map[string]SMTP{
		"smtp://user:p%40ss@mail.example.com:2525": {Host: "mail.example.com", Port: 2525, Username: "user", Password: "p@ss"},
		"smtp://mail.example.com":                  {Host: "mail.example.com", Port: 587},
		"smtps://u:p@mail.example.com":             {Host: "mail.example.com", Port: 465, Username: "u", Password: "p", ImplicitTLS: true},
		"SMTP://127.0.0.1:25/":                     {Host: "127.0.0.1", Port: 25},
	} {
		c, err := load(map[string]string{"PARLEY_SMTP_URL": raw, "PARLEY_MAIL_FROM": "Parley <parley@example.com>"})
		if err != nil {
			t.Errorf("%s: %v", raw, err)
			continue
		}
		if *c.SMTP != want || !c.MailEnabled() || c.MailFrom != `"Parley" <parley@example.com>` {
			t.Errorf("%s: %+v from %q", raw, *c.SMTP, c.MailFrom)
		}
		if strings.Contains(c.SMTP.String(), want.Password+"@") && want.Password != "" {
			t.Errorf("String shows the password: %s", c.SMTP)
		}
	}
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"PARLEY_SMTP_URL": "http://mail.example.com", "PARLEY_MAIL_FROM": "a@b.co"}, "PARLEY_SMTP_URL"},
		{map[string]string{"PARLEY_SMTP_URL": "mail.example.com:587", "PARLEY_MAIL_FROM": "a@b.co"}, "PARLEY_SMTP_URL"},
		{map[string]string{"PARLEY_SMTP_URL": "smtp://", "PARLEY_MAIL_FROM": "a@b.co"}, "PARLEY_SMTP_URL"},
		{map[string]string{"PARLEY_SMTP_URL": "smtp://h:99999", "PARLEY_MAIL_FROM": "a@b.co"}, "PARLEY_SMTP_URL"},
		{map[string]string{"PARLEY_SMTP_URL": "smtp://h/path", "PARLEY_MAIL_FROM": "a@b.co"}, "PARLEY_SMTP_URL"},
		{map[string]string{"PARLEY_SMTP_URL": "smtp://:pw@h", "PARLEY_MAIL_FROM": "a@b.co"}, "PARLEY_SMTP_URL"},
		{map[string]string{"PARLEY_SMTP_URL": "smtp://u:secretpw@h"}, "PARLEY_MAIL_FROM"},
		{map[string]string{"PARLEY_SMTP_URL": "smtp://u:secretpw@h", "PARLEY_MAIL_FROM": "not an address"}, "PARLEY_MAIL_FROM"},
		{map[string]string{"PARLEY_MAIL_FROM": "nope"}, "PARLEY_MAIL_FROM"},
	} {
		_, err := load(tc.env)
		var ce *Error
		if !errors.As(err, &ce) || ce.Var != tc.want {
			t.Errorf("%v: %v, want an error naming %s", tc.env, err, tc.want)
			continue
		}
		if strings.Contains(err.Error(), "secretpw") {
			t.Errorf("the error repeats the password: %v", err)
		}
	}
}
