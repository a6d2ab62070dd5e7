package client_test

import (
	"context"
	"fmt"
	"io"
	"log"
	"strings"
	"time"

	"github.com/cairn-fs/cairn/client"
)

// This example writes a file and reads it back. It needs a running
// cluster, so it is compiled but not run.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	c, err := client.Dial(ctx, "localhost:8020")
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()

	w, err := c.Create(ctx, "/greetings/hello.txt", &client.CreateOptions{CreateParent: true})
	if err != nil {
		log.Fatal(err)
	}
	defer w.Abort() // removes the file unless Close succeeded
	if _, err := io.Copy(w, strings.NewReader("hello, cairn\n")); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil {
		log.Fatal(err)
	}

	r, err := c.Open(ctx, "/greetings/hello.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Print(string(b))
}
