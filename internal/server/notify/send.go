package notify

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/drydockscan/drydock/internal/buildinfo"
)

// Webhook headers.
const (
	// HeaderSignature carries "t=<unix seconds>,v1=<hex HMAC-SHA256 of
	// "<t>.<body>" keyed by the channel's secret>".
	HeaderSignature = "X-Drydock-Signature"
	// HeaderDelivery is the delivery id (the same on every retry).
	HeaderDelivery = "X-Drydock-Delivery"
	// HeaderEvent is the event's type.
	HeaderEvent = "X-Drydock-Event"
)

// Sign returns the signature header of body at time t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts))
	mac.Write([]byte{'.'})
	mac.Write(body)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a signature header against body: the HMAC must match and
// the time must be within tolerance of now (replays of old deliveries
// fail).
func Verify(secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs []string
	for _, part := range strings.Split(header, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errors.New("signature header: want t=<unix time>,v1=<hex>")
	}
	at := time.Unix(sec, 0)
	if d := now.Sub(at); d > tolerance || d < -tolerance {
		return fmt.Errorf("signature is %s old: outside the tolerance of %s", d.Round(time.Second), tolerance)
	}
	want := Sign(secret, at, body)
	_, wantSig, _ := strings.Cut(want, ",v1=")
	for _, s := range sigs {
		if hmac.Equal([]byte(s), []byte(wantSig)) {
			return nil
		}
	}
	return errors.New("signature does not match")
}

// Result is the outcome of one attempt.
type Result struct {
	// Code is the HTTP status or SMTP reply code (0 when none came).
	Code int
	// Permanent: trying again cannot help (a 4xx answer, a refused
	// address).
	Permanent bool
}

// sender delivers messages to one kind of channel.
type sender interface {
	send(ctx context.Context, ch *Channel, m *Message) (Result, error)
}

func senderFor(typ string) (sender, bool) {
	switch typ {
	case TypeWebhook, TypeSlack, TypeTeams:
		return httpSender{}, true
	case TypeEmail:
		return mailSender{}, true
	}
	return nil, false
}

type httpSender struct{}

// body returns the request body for the channel's type.
func body(ch *Channel, m *Message) ([]byte, error) {
	switch ch.Type {
	case TypeSlack:
		return json.Marshal(slackPayload(m))
	case TypeTeams:
		return json.Marshal(teamsPayload(m))
	}
	return json.Marshal(m)
}

func (httpSender) send(ctx context.Context, ch *Channel, m *Message) (Result, error) {
	b, err := body(ch, m)
	if err != nil {
		return Result{Permanent: true}, err
	}
	ctx, cancel := context.WithTimeout(ctx, ch.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, ch.URL, bytes.NewReader(b))
	if err != nil {
		return Result{Permanent: true}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "drydock/"+buildinfo.Version())
	req.Header.Set(HeaderDelivery, m.Delivery)
	req.Header.Set(HeaderEvent, m.Event.Type)
	for k, v := range ch.Headers {
		req.Header.Set(k, secretValue(v))
	}
	if ch.Secret != "" {
		req.Header.Set(HeaderSignature, Sign(secretValue(ch.Secret), time.Now(), b))
	}
	client, err := httpClient(ch)
	if err != nil {
		return Result{Permanent: true}, err
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL may hold a token (Slack, Teams): say only the host.
		var ue interface{ Unwrap() error }
		if errors.As(err, &ue) {
			err = ue.Unwrap()
		}
		return Result{}, fmt.Errorf("POST to %s: %w", req.URL.Host, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	r := Result{Code: resp.StatusCode}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return r, nil
	}
	switch resp.StatusCode {
	case http.StatusRequestTimeout, http.StatusConflict, http.StatusTooEarly, http.StatusTooManyRequests:
	default:
		r.Permanent = resp.StatusCode >= 400 && resp.StatusCode < 500
	}
	return r, fmt.Errorf("POST to %s: %s", req.URL.Host, resp.Status)
}

// httpClient returns a client that trusts the channel's CA file beside
// the system's and does not follow redirects (a signed body goes only
// where it was configured to go).
func httpClient(ch *Channel) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if ch.CAFile != "" {
		pool, err := caPool(ch.CAFile)
		if err != nil {
			return nil, err
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, nil
}

func caPool(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ca-file: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("ca-file %s: no PEM certificate", file)
	}
	return pool, nil
}

// slackPayload is a Slack incoming-webhook message (text and Block Kit
// blocks); Mattermost and Rocket.Chat read the same.
func slackPayload(m *Message) map[string]any {
	var lines []string
	for _, f := range m.facts() {
		lines = append(lines, "*"+f[0]+":* "+slackEscape(f[1]))
	}
	return map[string]any{
		"text": m.Summary,
		"blocks": []any{
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "*" + slackEscape(m.Summary) + "*"}},
			map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": strings.Join(lines, "\n")}},
			map[string]any{"type": "context", "elements": []any{map[string]any{"type": "mrkdwn", "text": "drydock · delivery " + m.Delivery}}},
		},
	}
}

// slackEscape escapes what Slack's mrkdwn reads as markup.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// teamsPayload is a Microsoft Teams message with an Adaptive Card, as
// Teams workflow webhooks take it.
func teamsPayload(m *Message) map[string]any {
	var facts []any
	for _, f := range m.facts() {
		facts = append(facts, map[string]any{"title": f[0], "value": f[1]})
	}
	return map[string]any{
		"type": "message",
		"attachments": []any{map[string]any{
			"contentType": "application/vnd.microsoft.card.adaptive",
			"content": map[string]any{
				"$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
				"type":    "AdaptiveCard",
				"version": "1.4",
				"body": []any{
					map[string]any{"type": "TextBlock", "text": m.Summary, "weight": "Bolder", "wrap": true},
					map[string]any{"type": "FactSet", "facts": facts},
				},
			},
		}},
	}
}
