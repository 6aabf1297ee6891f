#!/bin/bash
# The object store's health check, as the local stack's readiness probe: make the warehouse bucket
# if it is missing, then write an object and read it back. Listing is not enough: after a restart
# the gateway lists at once while reads fail until its volume server is back.
set -uo pipefail
s3=http://127.0.0.1:8333
bucket=${K2_S3_BUCKET:-warehouse}
# curl 7.88 signs the request but sends no payload hash, which S3 servers want as a header
sign=(--aws-sigv4 "aws:amz:${AWS_REGION:-us-east-1}:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY"
      -H "x-amz-content-sha256: UNSIGNED-PAYLOAD")
stamp=$(date +%s%N)
code=$(curl -s -o /dev/null -w '%{http_code}' -m 4 "${sign[@]}" -X PUT "$s3/$bucket")
case $code in
  200|409) ;;  # made now, or there already
  *) echo "S3 PUT /$bucket answered ${code/000/no connection}"; exit 1 ;;
esac
if ! curl -fsS -o /dev/null -m 4 "${sign[@]}" -X PUT --data-binary "$stamp" "$s3/$bucket/.k2-stack/ready"; then
  echo "S3 write of the sentinel object failed"; exit 1
fi
back=$(curl -fsS -m 4 "${sign[@]}" "$s3/$bucket/.k2-stack/ready") || { echo "S3 read of the sentinel failed"; exit 1; }
if [ "$back" != "$stamp" ]; then
  echo "S3 read back ${back:0:40}, wrote $stamp"; exit 1
fi
echo "S3 write and read back ok in bucket $bucket"
