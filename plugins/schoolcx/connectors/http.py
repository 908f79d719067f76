"""HTTP for vendor APIs: one client, bounded retries, honest errors.

Retries 5xx, timeouts and dropped connections with exponential backoff; on 429 waits the
vendor's Retry-After. Gives up after a bounded budget with an error naming the source. A 401/403
fails at once naming the connection id (never the secret): retrying bad credentials only burns
the vendor's rate limit. Any other 4xx (a listing endpoint that is gone, a bad request) fails at
once as a VendorHTTPError: a ConnectorError naming the source and the connection id, and still an
httpx.HTTPStatusError carrying the response for connectors that look at it (a page cap, a
vendor error code). No message carries a secret: the connection's password or token, and the
values of credential headers, are masked wherever the URL or the vendor's body echoes them.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import msgspec

from schoolcx.connectors.base import ConnectorError
from schoolcx.runtime import http_timeout


class AuthError(ConnectorError):
    pass


class RetryBudgetExhausted(ConnectorError):
    pass


class VendorHTTPError(ConnectorError, httpx.HTTPStatusError):
    """A 4xx other than 401/403, named for an operator (source, connection id, never a secret)."""

    def __init__(self, message: str, *, request: httpx.Request, response: httpx.Response):
        httpx.HTTPStatusError.__init__(self, message, request=request, response=response)


SECRET_HEADERS = ("authorization", "x-api-token", "x-api-key")


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    max_retry_after: float = 120.0  # refuse to sleep longer than this on one 429
    total_budget: float = 600.0  # seconds of waiting across one request's retries


RETRYABLE_EXC = (httpx.TimeoutException, httpx.NetworkError, httpx.RemoteProtocolError)


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("Retry-After")
    if value is None:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def _is_json(response: httpx.Response) -> bool:
    if response.status_code >= 400:
        return True  # error bodies are judged by status, not parsed
    try:
        # Kept on the response: a 1,000-record page is too big to parse twice.
        response.parsed_json = _parse(response)  # type: ignore[attr-defined]
    except ValueError:
        return False
    return True


def _parse(response: httpx.Response):
    """msgspec parses a page twice as fast as json.loads (bench.extract, issue 19); a body it
    refuses (not UTF-8, NaN) is given to json.loads as before, so what is accepted is unchanged."""
    try:
        return msgspec.json.decode(response.content)
    except msgspec.DecodeError:
        return response.json()


def parsed_json(response: httpx.Response):
    """The response's JSON body, parsed once (by the expect_json check when it ran)."""
    cached = getattr(response, "parsed_json", _MISSING)
    return _parse(response) if cached is _MISSING else cached


_MISSING = object()


class VendorClient:
    """A thin httpx wrapper with the retry rules above. `sleep` is injectable for tests."""

    def __init__(
        self,
        base_url: str,
        *,
        conn_id: str,
        source: str,
        auth=None,
        headers: dict | None = None,
        timeout: float | None = None,  # seconds; default SCHOOLCX_HTTP_TIMEOUT_SECONDS (30)
        policy: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.conn_id = conn_id
        self.source = source
        # what must never appear in an error message (the masked values, longest first)
        secrets = []
        if isinstance(auth, tuple) and len(auth) == 2:  # basic auth: the password and the header
            secrets += [auth[1], base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()]
        secrets += [v for k, v in (headers or {}).items() if k.lower() in SECRET_HEADERS]
        self._secrets = sorted({str(x) for x in secrets if x}, key=len, reverse=True)
        self.policy = policy or RetryPolicy()
        self._sleep = sleep
        self.requests = 0
        self.retries = 0
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            auth=auth,
            headers=headers or {},
            timeout=http_timeout() if timeout is None else timeout,
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _masked(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _refused(self, method: str, response: httpx.Response) -> VendorHTTPError:
        url = response.request.url
        where = url.path + (f"?{url.query.decode()}" if url.query else "")
        body = " ".join(response.text[:300].split())
        message = (
            f"{self.source}: {method} {where} failed with HTTP {response.status_code} "
            f"(Airflow connection {self.conn_id!r}): {body}"
        )
        return VendorHTTPError(self._masked(message), request=response.request, response=response)

    def request(
        self, method: str, url: str, *, expect_json: bool = False, **kwargs
    ) -> httpx.Response:
        waited = 0.0
        last_problem = ""
        for attempt in range(1, self.policy.max_attempts + 1):
            delay = min(self.policy.max_delay, self.policy.base_delay * 2 ** (attempt - 1))
            try:
                self.requests += 1
                response = self._client.request(method, url, **kwargs)
            except RETRYABLE_EXC as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            else:
                status = response.status_code
                if status in (401, 403):
                    raise AuthError(
                        self._masked(
                            f"{self.source}: {method} {url} was refused with HTTP {status}; "
                            f"check the credentials of Airflow connection {self.conn_id!r}"
                        )
                    )
                if status == 429:
                    delay = _retry_after(response, delay)
                    if delay > self.policy.max_retry_after:
                        raise RetryBudgetExhausted(
                            f"{self.source}: rate limited, Retry-After {delay:.0f}s exceeds "
                            f"the {self.policy.max_retry_after:.0f}s allowed"
                        )
                    last_problem = f"HTTP 429 (Retry-After {delay:g}s)"
                elif status >= 500:
                    last_problem = f"HTTP {status}"
                elif expect_json and not _is_json(response):
                    # A truncated or garbled page is a transient fault: fetch it again.
                    last_problem = f"HTTP {status} with a body that is not JSON"
                else:
                    if not response.is_success:  # other 4xx: a bug or a bad request
                        raise self._refused(method, response)
                    return response
            if attempt == self.policy.max_attempts or waited + delay > self.policy.total_budget:
                break
            self.retries += 1
            waited += delay
            self._sleep(delay)
        raise RetryBudgetExhausted(
            self._masked(
                f"{self.source}: {method} {url} failed after {attempt} attempts "
                f"({waited:.1f}s waited; Airflow connection {self.conn_id!r}); "
                f"last problem: {last_problem}"
            )
        )

    def get_json(self, url: str, **kwargs):
        return parsed_json(self.request("GET", url, expect_json=True, **kwargs))
