package protocol

// The generated code is committed, so a plain go build needs no
// protoc. To regenerate it after changing cairn.proto, with Debian's
// protobuf-compiler (protoc 3.21) and the plugins at the versions named
// in the generated files' headers:
//
//	go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
//	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
//	go generate ./internal/protocol

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative cairn.proto
