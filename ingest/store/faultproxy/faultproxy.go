// Package faultproxy is a loopback HTTP proxy that injects the faults object
// stores show under load (connection resets, 503 SlowDown, slow responses,
// bodies cut mid-stream) in front of a real S3 server, on a deterministic
// schedule, so that tests can check that a run still yields exactly the
// samples of a clean run.
package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"

	"github.com/sourcegraph/conc"
)

// Faults says which object requests fail and how. Object GETs and object
// writes are counted apart, each from 1: GET n gets the first read fault
// whose Every divides n, write n the first write fault. Zero disables a
// fault. Listing, HEAD and bucket requests pass through untouched.
type Faults struct {
	ResetEvery    int // close the connection with a TCP reset before answering
	SlowDownEvery int // answer 503 SlowDown
	CutEvery      int // send the headers and half the body, then drop the connection
	SlowEvery     int // delay the response by SlowDelay
	SlowDelay     time.Duration

	// Write faults, on PutObject, UploadPart and CompleteMultipartUpload
	// (see IsObjectWrite); none of them forwards the request, except
	// WriteLostReplyEvery.
	WriteResetEvery     int // read half the request body, then reset the connection (a reset mid-upload)
	WriteSlowDownEvery  int // answer 503 SlowDown
	WriteErrorEvery     int // answer 500 InternalError
	WriteLostReplyEvery int // forward the write (it lands), then reset the connection instead of answering
	WriteConflictEvery  int // answer a conditional write (If-None-Match) with 409 ConditionalRequestConflict, as AWS does while another one of the key is in flight
	// WriteOnly, when set, limits the write faults to that kind of write:
	// "PutObject", "UploadPart" or "CompleteMultipartUpload".
	WriteOnly string
}

// Proxy is one running proxy.
type Proxy struct {
	// URL is the proxy's endpoint ("http://127.0.0.1:PORT").
	URL string

	target *url.URL
	faults Faults
	srv    *http.Server
	ln     net.Listener
	wg     conc.WaitGroup
	client *http.Client

	gets                          atomic.Int64
	resets, slowdowns, cuts, slow atomic.Int64
	writes                        atomic.Int64
	wResets, wSlowdowns, wErrors  atomic.Int64
	wLost, wConflicts             atomic.Int64
}

// Start listens on a free loopback port and forwards to target (an http URL).
// The caller must Close it.
func Start(target string, f Faults) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, fmt.Errorf("faultproxy: target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: %w", err)
	}
	p := &Proxy{
		URL: "http://" + ln.Addr().String(), target: u, faults: f, ln: ln,
		client: &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}},
	}
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 10 * time.Second}
	p.wg.Go(func() { _ = p.srv.Serve(ln) })
	return p, nil
}

// Close stops the proxy and waits for its server goroutine.
func (p *Proxy) Close() error {
	err := p.srv.Close()
	p.wg.Wait()
	p.client.CloseIdleConnections()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// Gets is the number of object GET requests the proxy received.
func (p *Proxy) Gets() int64 { return p.gets.Load() }

// Writes is the number of object writes the proxy received (those
// WriteOnly selects, when set).
func (p *Proxy) Writes() int64 { return p.writes.Load() }

// Injected returns how many faults of each kind were injected so far.
func (p *Proxy) Injected() map[string]int64 {
	return map[string]int64{"reset": p.resets.Load(), "slowdown": p.slowdowns.Load(), "cut": p.cuts.Load(), "slow": p.slow.Load(),
		"write-reset": p.wResets.Load(), "write-slowdown": p.wSlowdowns.Load(), "write-error": p.wErrors.Load(), "write-lost-reply": p.wLost.Load(), "write-conflict": p.wConflicts.Load()}
}

// IsObjectWrite names the object write r is (path-style /bucket/key):
// "PutObject", "UploadPart" (PUT with partNumber and uploadId) or
// "CompleteMultipartUpload" (POST with uploadId); "" for anything else.
func IsObjectWrite(r *http.Request) string {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	if len(parts) != 2 || parts[1] == "" {
		return ""
	}
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPut && q.Has("partNumber") && q.Has("uploadId"):
		return "UploadPart"
	case r.Method == http.MethodPut && r.Header.Get("X-Amz-Copy-Source") == "" && !q.Has("tagging") && !q.Has("acl"):
		return "PutObject"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	}
	return ""
}

// writeFault injects the write fault of write n, if any, and reports
// whether it answered the request.
func (p *Proxy) writeFault(w http.ResponseWriter, r *http.Request, n int64) bool {
	f := p.faults
	switch {
	case every(n, f.WriteResetEvery):
		p.wResets.Add(1)
		if r.ContentLength > 1 {
			_, _ = io.CopyN(io.Discard, r.Body, r.ContentLength/2)
		}
		p.reset(w)
		return true
	case every(n, f.WriteSlowDownEvery):
		p.wSlowdowns.Add(1)
		writeError(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
		return true
	case every(n, f.WriteErrorEvery):
		p.wErrors.Add(1)
		writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return true
	case every(n, f.WriteConflictEvery) && r.Header.Get("If-None-Match") != "":
		p.wConflicts.Add(1)
		writeError(w, r, http.StatusConflict, "ConditionalRequestConflict", "A conflicting operation occurred. If using PutObject you can retry the request.")
		return true
	case every(n, f.WriteLostReplyEvery):
		p.wLost.Add(1)
		p.forward(&lostReply{ResponseWriter: w}, r, false)
		p.reset(w)
		return true
	}
	return false
}

// lostReply swallows a forwarded response: the write lands, the client
// never hears of it.
type lostReply struct{ http.ResponseWriter }

func (l *lostReply) Header() http.Header         { return http.Header{} }
func (l *lostReply) WriteHeader(int)             {}
func (l *lostReply) Write(b []byte) (int, error) { return len(b), nil }

// writeError answers with an S3 error. It reads the request body first, as
// a server does, so that the client sees the answer rather than a reset
// while it is still sending a large body.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, msg string) {
	_, _ = io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>`+msg+`</Message></Error>`)
}

func every(n int64, k int) bool { return k > 0 && n%int64(k) == 0 }

// isObjectGet reports whether r reads an object (path-style /bucket/key).
func isObjectGet(r *http.Request) bool {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	return r.Method == http.MethodGet && len(parts) == 2 && parts[1] != ""
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if kind := IsObjectWrite(r); kind != "" && (p.faults.WriteOnly == "" || p.faults.WriteOnly == kind) {
		if p.writeFault(w, r, p.writes.Add(1)) {
			return
		}
	}
	cut := false
	if isObjectGet(r) {
		n := p.gets.Add(1)
		switch {
		case every(n, p.faults.ResetEvery):
			p.resets.Add(1)
			p.reset(w)
			return
		case every(n, p.faults.SlowDownEvery):
			p.slowdowns.Add(1)
			writeError(w, r, http.StatusServiceUnavailable, "SlowDown", "Please reduce your request rate.")
			return
		case every(n, p.faults.CutEvery):
			p.cuts.Add(1)
			cut = true
		case every(n, p.faults.SlowEvery):
			p.slow.Add(1)
			select {
			case <-time.After(p.faults.SlowDelay):
			case <-r.Context().Done():
				return
			}
		}
	}
	p.forward(w, r, cut)
}

// reset drops the client connection with a TCP RST.
func (p *Proxy) reset(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	conn.Close()
}

func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, cut bool) {
	out := r.Clone(context.WithoutCancel(r.Context()))
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	out.Host = r.Host // the request was signed for the proxy's host
	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	out = out.WithContext(ctx)
	resp, err := p.client.Do(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if !cut || resp.StatusCode >= 300 || resp.ContentLength < 2 {
		_, _ = io.Copy(w, resp.Body)
		return
	}
	_, _ = io.CopyN(w, resp.Body, resp.ContentLength/2)
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	panic(http.ErrAbortHandler) // the server drops the connection mid-body
}
