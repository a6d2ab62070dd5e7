package cli

import (
	"net/http"
	"net/http/pprof"

	"github.com/spf13/cobra"
)

// pprofFlag adds --pprof to a server command.
func pprofFlag(cmd *cobra.Command, on *bool) {
	cmd.Flags().BoolVar(on, "pprof", false, "serve Go profiles (net/http/pprof) under /debug/pprof/ on the web address")
}

// withPprof returns h, with the net/http/pprof handlers under
// /debug/pprof/ in front of it when on. They are registered on a mux of
// our own: nothing is served from http.DefaultServeMux.
func withPprof(h http.Handler, on bool) http.Handler {
	if !on {
		return h
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle("/", h)
	return mux
}
