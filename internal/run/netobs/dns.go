package netobs

import (
	"strconv"
	"strings"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

// dnsAnswer reads a DNS query and returns the response to send. It
// returns false when msg is not a well-formed query (a response, or a
// message any of whose sections does not parse): the datagram is then
// treated as any other. Every question is recorded; an A question in
// class IN for a valid name is answered with the name's sinkhole address;
// an opcode other than QUERY gets NOTIMP.
func (h *Handler) dnsAnswer(t time.Time, msg []byte) ([]byte, bool) {
	var p dnsmessage.Parser
	q, err := p.Start(msg)
	if err != nil || q.Response {
		return nil, false
	}
	questions, err := p.AllQuestions()
	if err != nil {
		return nil, false
	}
	if p.SkipAllAnswers() != nil || p.SkipAllAuthorities() != nil || p.SkipAllAdditionals() != nil {
		return nil, false
	}

	resp := dnsmessage.Header{ID: q.ID, Response: true, OpCode: q.OpCode, RecursionDesired: q.RecursionDesired,
		RecursionAvailable: true, RCode: dnsmessage.RCodeSuccess}
	if q.OpCode != 0 { // QUERY
		resp.RCode = dnsmessage.RCodeNotImplemented
	}
	type answer struct {
		name dnsmessage.Name
		addr [4]byte
	}
	var answers []answer
	for _, qu := range questions {
		name := strings.TrimSuffix(strings.ToLower(qu.Name.String()), ".")
		rec := DNSQuery{Time: t, Name: name, Type: dnsTypeName(qu.Type)}
		if qu.Type == dnsmessage.TypeA && qu.Class == dnsmessage.ClassINET && validName(name) {
			if a, ok := h.sinkhole(name); ok {
				rec.Answer = a.String()
				answers = append(answers, answer{qu.Name, a.As4()})
			}
		}
		if len(h.res.DNS) >= MaxRecords {
			h.res.Truncated = true
			continue
		}
		h.res.DNS = append(h.res.DNS, rec)
	}

	b := dnsmessage.NewBuilder(make([]byte, 0, 512), resp)
	b.EnableCompression()
	if b.StartQuestions() != nil {
		return nil, true
	}
	for _, qu := range questions {
		if b.Question(qu) != nil {
			return nil, true
		}
	}
	if b.StartAnswers() != nil {
		return nil, true
	}
	for _, a := range answers {
		rh := dnsmessage.ResourceHeader{Name: a.name, Class: dnsmessage.ClassINET, TTL: 60}
		if b.AResource(rh, dnsmessage.AResource{A: a.addr}) != nil {
			return nil, true
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil, true
	}
	return out, true
}

// dnsTypeName is the name recorded for a query type: its mnemonic, or
// TYPEnnn for a type without one (RFC 3597 5).
func dnsTypeName(t dnsmessage.Type) string {
	switch t {
	case 1:
		return "A"
	case 2:
		return "NS"
	case 3:
		return "MD"
	case 4:
		return "MF"
	case 5:
		return "CNAME"
	case 6:
		return "SOA"
	case 7:
		return "MB"
	case 8:
		return "MG"
	case 9:
		return "MR"
	case 10:
		return "NULL"
	case 11:
		return "WKS"
	case 12:
		return "PTR"
	case 13:
		return "HINFO"
	case 14:
		return "MINFO"
	case 15:
		return "MX"
	case 16:
		return "TXT"
	case 28:
		return "AAAA"
	case 33:
		return "SRV"
	case 35:
		return "NAPTR"
	case 41:
		return "OPT"
	case 46:
		return "RRSIG"
	case 48:
		return "DNSKEY"
	case 64:
		return "SVCB"
	case 65:
		return "HTTPS"
	case 256:
		return "URI"
	}
	return "TYPE" + strconv.Itoa(int(t))
}
