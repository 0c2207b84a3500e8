# The ICMP datagram socket addon (native/icmp_dgram.c), built by `npm ci` itself: npm
# runs `node-gyp rebuild` for a package with a binding.gyp and no install script.
{
  "targets": [
    {
      "target_name": "icmp_dgram",
      "sources": ["native/icmp_dgram.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"]
    }
  ]
}
