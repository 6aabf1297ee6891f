"""The platform containers' health check: GET /health/ready on the service's own port.

Exit 0 only on HTTP 200 (readiness reflects the service's dependencies), 1 otherwise, with one
line saying why: Docker keeps that line in the container's health log, where the harness's
ComposeDriver shows it as the service's detail. Standard library only (the image has no curl).
"""

import sys
import urllib.error
import urllib.request


def main(port: str) -> int:
    url = f"http://127.0.0.1:{port}/health/ready"
    try:
        with urllib.request.urlopen(url, timeout=3) as response:
            print(f"GET /health/ready answered {response.status}")
            return 0 if response.status == 200 else 1
    except urllib.error.HTTPError as exc:
        print(f"GET /health/ready answered {exc.code}: {exc.read(200).decode(errors='replace')}")
    except OSError as exc:
        print(f"GET /health/ready failed: {exc}")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "18000"))
