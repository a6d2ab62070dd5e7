// Package certs makes and loads the certificates that secure a cairn
// cluster: one certificate authority (CA) and, signed by it, one
// certificate per host, which serves both ends of the nodes' mutual
// TLS ('cairn admin certs init' writes them; the servers' --tls-cert,
// --tls-key and --tls-ca and the clients' --tls-ca read them).
//
// The files of a directory made by Init, all PEM:
//
//	ca.crt          the CA's certificate ("CERTIFICATE"), mode 0644
//	ca.key          the CA's private key ("PRIVATE KEY", PKCS #8), mode 0600
//	<host>.crt      host's certificate, signed by the CA, mode 0644
//	<host>.key      host's private key ("PRIVATE KEY", PKCS #8), mode 0600
//
// The directory itself is made mode 0700. Keys are ECDSA P-256. The CA
// is valid for 10 years, a host's certificate for as long (at most the
// CA's remaining life). A host's certificate names the host as its
// common name and subject alternative name: an IP address if the name
// parses as one, a DNS name otherwise; its extended key usages are
// server and client authentication, since a node is both.
//
// Init run again on a directory that holds ca.crt and ca.key signs the
// new hosts with that CA, so hosts can be added to a cluster later; it
// never overwrites a host's files unless told to (Options.Force), and
// never the CA's.
package certs
