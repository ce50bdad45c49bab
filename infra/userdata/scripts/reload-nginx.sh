#!/bin/bash
# certbot deploy hook: serve a renewed certificate without dropping connections.
set -euo pipefail
nginx -t
systemctl reload nginx.service
