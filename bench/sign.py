"""bench/sign.py - comparison baseline only: the three signing schemes in Python's
hashlib/hmac (HKDF per RFC 5869 written with hmac), same inputs as bench/sign.lua.
Like core.sign, the V11 derived key is kept while its inputs are unchanged.
Prints "<scheme> <microseconds per whole signature>"; with --check, one signature each."""
import hashlib
import hmac
import sys
import time

APP = dict(method="GET", path="/koodrive/ose/v1/backup/device", query=[],
           headers={"Host": "cn.myhuaweicloud-koodrive.com", "X-Date": "20240909T033325Z",
                    "X-User-Id": "1505084218764547200"},
           body=b"", key_id="a378331eca141163119eb602adb67b7802cc79cd33ba44c7d2fe61d1586c96a1",
           secret="ExampleAppSecret")
IOT = dict(method="POST",
           path="/v5/iot/0a1b2c3d4e5f60718293a4b5c6d7e8f9/device-policies/5c90fa7d3c4e4405e8525079/unbind",
           query=[], headers={"Content-Type": "application/json",
                              "Host": "iotda.cn-north-4.myhuaweicloud.com",
                              "X-Sdk-Date": "20251103T070140Z",
                              "Instance-Id": "1a7ffc5c-d89c-44dd-8265-b1653d951ce0"},
           body=b'{"target_type":"device","target_ids":["64a7ba7ef9cb063d27e16b97_123456"]}',
           key_id="AccessKey", secret="SecretKey", region="cn-north-4", service="iotdm")

UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


def enc(s):
    return "".join(chr(c) if c in UNRESERVED else "%%%02X" % c for c in s.encode())


def canonical(req, scheme):
    path = "/".join(enc(seg) for seg in req["path"].split("/"))
    if not path.endswith("/"):
        path += "/"
    query = "&".join(enc(k) + "=" + enc(v) for k, v in sorted(req["query"], key=lambda p: p[0].encode()))
    hdrs = sorted((k.lower(), v.strip()) for k, v in req["headers"].items())
    if scheme == "HMAC-SHA256":
        hdrs = [h for h in hdrs if h[0] in ("host", "x-date", "x-user-id")]
    else:
        hdrs = [h for h in hdrs if "_" not in h[0]]
    signed = ";".join(k for k, _ in hdrs)
    lines = "".join(k + ":" + v + "\n" for k, v in hdrs)
    payload = hashlib.sha256(req["body"]).hexdigest()
    return "\n".join([req["method"].upper(), path, query, lines, signed, payload]), signed


def hkdf_sha256(ikm, salt, info, length=32):
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    okm, t, i = b"", b"", 1
    while len(okm) < length:
        t = hmac.new(prk, t + info + bytes([i]), hashlib.sha256).digest()
        okm += t
        i += 1
    return okm[:length]


_v11 = {}


def sign(req, scheme):
    canon, signed = canonical(req, scheme)
    h = hashlib.sha256(canon.encode()).hexdigest()
    if scheme == "HMAC-SHA256":
        sts = "HMAC-SHA256\n" + h
        sig = hmac.new(req["secret"].encode(), sts.encode(), hashlib.sha256).hexdigest()
        return "HMAC-SHA256 AppId=%s,SignedHeaders=%s,Signature=%s" % (req["key_id"], signed, sig)
    date = req["headers"]["X-Sdk-Date"]
    if scheme == "SDK-HMAC-SHA256":
        sts = "SDK-HMAC-SHA256\n%s\n%s" % (date, h)
        sig = hmac.new(req["secret"].encode(), sts.encode(), hashlib.sha256).hexdigest()
        return "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (req["key_id"], signed, sig)
    scope = "%s/%s/%s" % (date[:8], req["region"], req["service"])
    ck = (req["secret"], req["key_id"], scope)
    key = _v11.get(ck)
    if key is None:
        key = hkdf_sha256(req["secret"].encode(), req["key_id"].encode(), scope.encode()).hex()
        _v11.clear()
        _v11[ck] = key
    sts = "V11-HMAC-SHA256\n%s\n%s\n%s" % (date, scope, h)
    sig = hmac.new(key.encode(), sts.encode(), hashlib.sha256).hexdigest()
    return "V11-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (req["key_id"], scope, signed, sig)


CASES = [("HMAC-SHA256", APP), ("SDK-HMAC-SHA256", IOT), ("V11-HMAC-SHA256", IOT)]

if __name__ == "__main__":
    if "--check" in sys.argv:
        for scheme, req in CASES:
            print(sign(req, scheme))
        sys.exit(0)
    iters = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    for scheme, req in CASES:
        best = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(iters):
                sign(req, scheme)
            best = min(best, (time.perf_counter() - t0) / iters * 1e6)
        print("%s %.3f" % (scheme, best))
