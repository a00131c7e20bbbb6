-- bench/transfer_report.lua - the transfer rows of the table (bench/report.lua loads this when
-- bench/transfer.sh has run): throughput in MiB/s from the seconds bench/transfer.lua measured.
-- Returns function(need, row) -> how many of the rows' targets were missed.
return function(need, row)
  local missed = 0
  local function target(ok) if not ok then missed = missed + 1 end; return ok end
  local mib = need "xfer_mib"
  local function rate(key) return mib / need(key) end
  local up, put = rate "xfer_up4_s", rate "xfer_curl_put_s"
  local tag = (" %.0f MiB"):format(mib)
  row("upload" .. tag .. ", concurrency 4 (files:upload, Lua 5.4)", up, "MiB/s", put, "curl -T", "rate",
    "≥ 0.90× curl", target(up / put >= 0.90))
  row("  its hashing pass alone (part_hasher)", rate "xfer_hash_s", "MiB/s", nil, nil, "info")
  row("  client CPU / nginx worker CPU during it", need "xfer_up4_cpu_s", "s", need "xfer_up4_worker_cpu_s",
    "worker", "info")
  row("  nginx worker CPU during curl -T", need "xfer_curl_put_worker_cpu_s", "s", nil, nil, "info")
  local down, get = rate "xfer_down4_s", rate "xfer_curl_get_s"
  row("download" .. tag .. ", concurrency 4 (files:download)", down, "MiB/s", get, "curl -o", "rate",
    "≥ 0.90× curl", target(down / get >= 0.90))
  local hash, ref = rate "xfer_hash_s", rate "xfer_sha256sum_s"
  row("hashing pass" .. tag .. " (part_hasher, 5 MiB parts)", hash, "MiB/s", ref, "sha256sum", "rate",
    "≥ 0.90× sha256sum", target(hash / ref >= 0.90))
  local rmib, cap = need "xfer_rate_mib", need "xfer_rate_bps" / 1e6
  for _, dir in ipairs { "up", "down" } do
    local one, four = rmib / need("xfer_rate_" .. dir .. "1_s"), rmib / need("xfer_rate_" .. dir .. "4_s")
    local name = dir == "up" and "upload" or "download"
    row(("%s %.0f MiB at %.0f MB/s per connection, concurrency 4"):format(name, rmib, cap), four, "MiB/s",
      one, "concurrency 1", "rate", "≥ 3.5× concurrency 1", target(four / one >= 3.5))
  end
  local small, big = need "xfer_rss_small_kib" / 1024, need "xfer_rss_big_kib" / 1024
  local function spread(which)
    return ("median; %.1f-%.1f"):format(need("xfer_rss_" .. which .. "_min_kib") / 1024,
      need("xfer_rss_" .. which .. "_max_kib") / 1024)
  end
  row(("peak RSS, upload + download of %.0f MiB (VmHWM, %s)"):format(need "xfer_rss_small_mib", spread "small"),
    small, "MiB", nil, nil, "info", "< 64 MiB", target(small < 64))
  -- "the same": medians within 2 MiB of each other (one run moves by about 1 MiB)
  row(("peak RSS, upload + download of %.0f MiB (VmHWM, %s)"):format(need "xfer_rss_big_mib", spread "big"),
    big, "MiB", small, "small file", "info", "< 64 MiB, ±2 MiB of small",
    target(big < 64 and math.abs(big - small) <= 2))
  return missed
end
