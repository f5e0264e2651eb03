/** Public surface of @vela/node for tools and tests: the XML-RPC codec. */
export * from "./api/xmlrpc-codec.js";
