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

// Faults says which object GET requests fail and how: request n (counting
// object GETs from 1) gets the first fault whose Every divides n. Zero
// disables a fault. Listing and write requests pass through untouched.
type Faults struct {
	ResetEvery    int // close the connection with a TCP reset before answering
	SlowDownEvery int // answer 503 SlowDown
	CutEvery      int // send the headers and half the body, then drop the connection
	SlowEvery     int // delay the response by SlowDelay
	SlowDelay     time.Duration
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

// Injected returns how many faults of each kind were injected so far.
func (p *Proxy) Injected() map[string]int64 {
	return map[string]int64{"reset": p.resets.Load(), "slowdown": p.slowdowns.Load(), "cut": p.cuts.Load(), "slow": p.slow.Load()}
}

func every(n int64, k int) bool { return k > 0 && n%int64(k) == 0 }

// isObjectGet reports whether r reads an object (path-style /bucket/key).
func isObjectGet(r *http.Request) bool {
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/"), "/", 2)
	return r.Method == http.MethodGet && len(parts) == 2 && parts[1] != ""
}

func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
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
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>`)
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
