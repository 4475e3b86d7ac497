package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"strings"
	"time"
)

type mailSender struct{}

// send delivers a message over SMTP: STARTTLS (required unless the
// channel says none), AUTH PLAIN or LOGIN when a user name is set, one
// plain-text UTF-8 message to every recipient. Its Message-ID is made of
// the delivery id, so mail systems can drop a duplicate.
func (mailSender) send(ctx context.Context, ch *Channel, m *Message) (Result, error) {
	host, _, err := net.SplitHostPort(ch.SMTP)
	if err != nil {
		return Result{Permanent: true}, fmt.Errorf("smtp %q: want host:port", ch.SMTP)
	}
	ctx, cancel := context.WithTimeout(ctx, ch.Timeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", ch.SMTP)
	if err != nil {
		return Result{}, fmt.Errorf("smtp %s: %w", ch.SMTP, err)
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		conn.Close()
		return smtpResult(err), fmt.Errorf("smtp %s: %w", ch.SMTP, err)
	}
	defer c.Close()
	fail := func(step string, err error) (Result, error) {
		return smtpResult(err), fmt.Errorf("smtp %s: %s: %w", ch.SMTP, step, err)
	}
	if err := c.Hello("drydock"); err != nil {
		return fail("EHLO", err)
	}
	if ch.StartTLS != "none" {
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return Result{Permanent: true}, fmt.Errorf("smtp %s: the server does not offer STARTTLS (set starttls: none to send in the clear)", ch.SMTP)
		}
		cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		if ch.CAFile != "" {
			pool, err := caPool(ch.CAFile)
			if err != nil {
				return Result{Permanent: true}, err
			}
			cfg.RootCAs = pool
		}
		if err := c.StartTLS(cfg); err != nil {
			return fail("STARTTLS", err)
		}
	}
	if ch.Username != "" {
		ok, mechs := c.Extension("AUTH")
		if !ok {
			return Result{Permanent: true}, fmt.Errorf("smtp %s: the server offers no AUTH", ch.SMTP)
		}
		var a smtp.Auth
		switch {
		case hasWord(mechs, "PLAIN"):
			a = smtp.PlainAuth("", ch.Username, secretValue(ch.Password), host)
		case hasWord(mechs, "LOGIN"):
			a = &loginAuth{user: ch.Username, pass: secretValue(ch.Password), host: host}
		default:
			return Result{Permanent: true}, fmt.Errorf("smtp %s: the server offers AUTH %s; drydock speaks PLAIN and LOGIN", ch.SMTP, mechs)
		}
		if err := c.Auth(a); err != nil {
			return fail("AUTH", err)
		}
	}
	if err := c.Mail(ch.From); err != nil {
		return fail("MAIL FROM", err)
	}
	for _, to := range ch.To {
		if err := c.Rcpt(to); err != nil {
			return fail("RCPT TO "+to, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return fail("DATA", err)
	}
	if _, err := w.Write(mailBody(ch, m, time.Now())); err != nil {
		return fail("DATA", err)
	}
	if err := w.Close(); err != nil {
		return fail("DATA", err)
	}
	_ = c.Quit()
	return Result{Code: 250}, nil
}

func hasWord(list, w string) bool {
	for _, f := range strings.Fields(list) {
		if strings.EqualFold(f, w) {
			return true
		}
	}
	return false
}

// smtpResult reads the reply code of an SMTP error: 5xx replies are
// permanent, 4xx and broken connections are not.
func smtpResult(err error) Result {
	var te *textproto.Error
	if errors.As(err, &te) {
		return Result{Code: te.Code, Permanent: te.Code >= 500}
	}
	return Result{}
}

// mailBody is the RFC 5322 message.
func mailBody(ch *Channel, m *Message, now time.Time) []byte {
	var b bytes.Buffer
	h := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	h("From", ch.From)
	h("To", strings.Join(ch.To, ", "))
	h("Subject", mime.QEncoding.Encode("utf-8", "[drydock] "+m.Summary))
	h("Date", now.Format(time.RFC1123Z))
	h("Message-ID", "<"+strings.ReplaceAll(m.Delivery, ":", ".")+"@drydock>")
	h("MIME-Version", "1.0")
	h("Content-Type", "text/plain; charset=utf-8")
	h("Content-Transfer-Encoding", "8bit")
	h("X-Drydock-Delivery", m.Delivery)
	h("X-Drydock-Event", m.Event.Type)
	b.WriteString("\r\n")
	b.WriteString(m.Summary + "\r\n\r\n")
	for _, f := range m.facts() {
		// No line may start a header or end the DATA section.
		v := strings.NewReplacer("\r", " ", "\n", " ").Replace(f[1])
		b.WriteString(f[0] + ": " + v + "\r\n")
	}
	return b.Bytes()
}

// loginAuth is the LOGIN mechanism (not in net/smtp), refused without
// TLS like PlainAuth is, except to localhost.
type loginAuth struct {
	user, pass, host string
}

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && a.host != "localhost" && a.host != "127.0.0.1" && a.host != "::1" {
		return "", nil, errors.New("unencrypted connection: refusing to send the password")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(from []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch strings.ToLower(strings.TrimSpace(string(from))) {
	case "username:", "username":
		return []byte(a.user), nil
	case "password:", "password":
		return []byte(a.pass), nil
	}
	return nil, fmt.Errorf("LOGIN: unexpected challenge %q", from)
}
