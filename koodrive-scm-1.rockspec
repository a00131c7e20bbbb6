rockspec_format = "3.0"
package = "koodrive"
version = "scm-1"

source = {
  url = "git+https://github.com/koodrive-lua/koodrive-lua.git",
}

description = {
  summary = "Huawei Cloud KooDrive (and IoTDA device policy) client with a C core",
  detailed = [[
    koodrive is a client for the Huawei Cloud KooDrive enterprise cloud drive API: devices,
    user groups and IoTDA device policies. A C core does HTTP through libcurl and signs every
    request with OpenSSL (KooDrive app HMAC-SHA256, Huawei SDK-HMAC-SHA256 and V11 derived
    signing); a Lua layer gives objects such as client.devices:list() returning plain tables.
    On Debian/Ubuntu pass CURL_INCDIR=/usr/include/x86_64-linux-gnu to luarocks.
  ]],
  homepage = "https://github.com/koodrive-lua/koodrive-lua",
  license = "MIT",
}

dependencies = {
  "lua >= 5.1, < 5.5",
  "lua-cjson >= 2.1.0",
  "argparse >= 0.7",
}

external_dependencies = {
  CURL = { header = "curl/curl.h", library = "curl" },
  OPENSSL = { header = "openssl/evp.h", library = "crypto" },
}

build = {
  type = "builtin",
  modules = {
    -- Three C modules, so that require "koodrive" loads neither libcrypto nor libcurl:
    -- signing and HTTP load on first use (see src/core.c).
    ["koodrive.core"] = {
      sources = { "src/clock.c", "src/core.c", "src/encode.c", "src/json.c", "src/json_decode.c",
        "src/json_scalar.c", "src/random.c", "src/files.c", "src/memory.c" },
      defines = { "_POSIX_C_SOURCE=200809L" },
    },
    ["koodrive.sign"] = {
      sources = { "src/encode.c", "src/sign.c", "src/sign_ctx.c", "src/sign_req.c", "src/hash_parts.c",
        "src/hash_follow.c" },
      defines = { "_POSIX_C_SOURCE=200809L" },
      incdirs = { "$(OPENSSL_INCDIR)" },
      libdirs = { "$(OPENSSL_LIBDIR)" },
      libraries = { "crypto" },
    },
    ["koodrive.curl"] = {
      sources = { "src/curl_core.c", "src/handle.c", "src/headers.c", "src/http.c", "src/multi.c", "src/multi_events.c",
        "src/transfer.c", "src/transfer_result.c", "src/parts.c", "src/parts_io.c", "src/parts_table.c" },
      defines = { "_POSIX_C_SOURCE=200809L" },
      incdirs = { "$(CURL_INCDIR)" },
      libdirs = { "$(CURL_LIBDIR)" },
      libraries = { "curl" },
    },
    ["koodrive"] = "lua/koodrive/init.lua",
    ["koodrive.batch"] = "lua/koodrive/batch.lua",
    ["koodrive.cli"] = "lua/koodrive/cli.lua",
    ["koodrive.cli.bulk"] = "lua/koodrive/cli/bulk.lua",
    ["koodrive.cli.call"] = "lua/koodrive/cli/call.lua",
    ["koodrive.cli.config"] = "lua/koodrive/cli/config.lua",
    ["koodrive.cli.devices"] = "lua/koodrive/cli/devices.lua",
    ["koodrive.cli.exit"] = "lua/koodrive/cli/exit.lua",
    ["koodrive.cli.groups"] = "lua/koodrive/cli/groups.lua",
    ["koodrive.cli.iotda"] = "lua/koodrive/cli/iotda.lua",
    ["koodrive.cli.output"] = "lua/koodrive/cli/output.lua",
    ["koodrive.client"] = "lua/koodrive/client.lua",
    ["koodrive.errors"] = "lua/koodrive/errors.lua",
    ["koodrive.iotda"] = "lua/koodrive/iotda.lua",
    ["koodrive.json"] = "lua/koodrive/json.lua",
    ["koodrive.loop"] = "lua/koodrive/loop.lua",
    ["koodrive.hosts.luv"] = "lua/koodrive/hosts/luv.lua",
    ["koodrive.hosts.cqueues"] = "lua/koodrive/hosts/cqueues.lua",
    ["koodrive.hosts.haproxy"] = "lua/koodrive/hosts/haproxy.lua",
    ["koodrive.loop.tasks"] = "lua/koodrive/loop/tasks.lua",
    ["koodrive.operations"] = "lua/koodrive/operations.lua",
    ["koodrive.retry"] = "lua/koodrive/retry.lua",
    ["koodrive.secrets"] = "lua/koodrive/secrets.lua",
    ["koodrive.pipeline"] = "lua/koodrive/pipeline.lua",
    ["koodrive.request.config"] = "lua/koodrive/request/config.lua",
    ["koodrive.request.build"] = "lua/koodrive/request/build.lua",
    ["koodrive.request.attempts"] = "lua/koodrive/request/attempts.lua",
    ["koodrive.request.response"] = "lua/koodrive/request/response.lua",
    ["koodrive.limits"] = "lua/koodrive/limits.lua",
    ["koodrive.options"] = "lua/koodrive/options.lua",
    ["koodrive.shape"] = "lua/koodrive/shape.lua",
    ["koodrive.validate"] = "lua/koodrive/validate.lua",
    ["koodrive.validate.tables"] = "lua/koodrive/validate/tables.lua",
    ["koodrive.validate.sharing"] = "lua/koodrive/validate/sharing.lua",
    ["koodrive.shape.sharing"] = "lua/koodrive/shape/sharing.lua",
    ["koodrive.bulk.sharing"] = "lua/koodrive/bulk/sharing.lua",
    ["koodrive.session_tokens"] = "lua/koodrive/session_tokens.lua",
    ["koodrive.transport"] = "lua/koodrive/transport/init.lua",
    ["koodrive.transport.auto"] = "lua/koodrive/transport/auto.lua",
    ["koodrive.transport.curl"] = "lua/koodrive/transport/curl.lua",
    ["koodrive.transport.failures"] = "lua/koodrive/transport/failures.lua",
    ["koodrive.transport.ngx"] = "lua/koodrive/transport/ngx.lua",
    ["koodrive.transport.http1"] = "lua/koodrive/transport/http1.lua",
    ["koodrive.transport.haproxy_httpclient"] = "lua/koodrive/transport/haproxy_httpclient.lua",
    ["koodrive.transport.ngx.connect"] = "lua/koodrive/transport/ngx/connect.lua",
    ["koodrive.transport.ngx.http1"] = "lua/koodrive/transport/ngx/http1.lua",
    ["koodrive.transport.ngx.resty"] = "lua/koodrive/transport/ngx/resty.lua",
    ["koodrive.transport.socket"] = "lua/koodrive/transport/socket.lua",
    ["koodrive.transport.socket.buffered"] = "lua/koodrive/transport/socket/buffered.lua",
    ["koodrive.transport.socket.cqueues"] = "lua/koodrive/transport/socket/cqueues.lua",
    ["koodrive.transport.socket.haproxy"] = "lua/koodrive/transport/socket/haproxy.lua",
    ["koodrive.transport.socket.luasocket"] = "lua/koodrive/transport/socket/luasocket.lua",
    ["koodrive.transport.record"] = "lua/koodrive/transport/record.lua",
    ["koodrive.transport.replay"] = "lua/koodrive/transport/replay.lua",
    ["koodrive.bulk.files"] = "lua/koodrive/bulk/files.lua",
    ["koodrive.cli.files"] = "lua/koodrive/cli/files.lua",
    ["koodrive.cli.transfer"] = "lua/koodrive/cli/transfer.lua",
    ["koodrive.cli.jobs"] = "lua/koodrive/cli/jobs.lua",
    ["koodrive.cli.paths"] = "lua/koodrive/cli/paths.lua",
    ["koodrive.cli.shares"] = "lua/koodrive/cli/shares.lua",
    ["koodrive.shape.fields"] = "lua/koodrive/shape/fields.lua",
    ["koodrive.shape.files"] = "lua/koodrive/shape/files.lua",
    ["koodrive.shape.transfers"] = "lua/koodrive/shape/transfers.lua",
    ["koodrive.transfer.plan"] = "lua/koodrive/transfer/plan.lua",
    ["koodrive.shape.jobs"] = "lua/koodrive/shape/jobs.lua",
    ["koodrive.validate.files"] = "lua/koodrive/validate/files.lua",
    ["koodrive.shape.iotda"] = "lua/koodrive/shape/iotda.lua",
    ["koodrive.validate.iotda"] = "lua/koodrive/validate/iotda.lua",
    ["koodrive.composite"] = "lua/koodrive/composite.lua",
    ["koodrive.operations.backups"] = "lua/koodrive/operations/backups.lua",
    ["koodrive.operations.devices"] = "lua/koodrive/operations/devices.lua",
    ["koodrive.operations.favorites"] = "lua/koodrive/operations/favorites.lua",
    ["koodrive.operations.files"] = "lua/koodrive/operations/files.lua",
    ["koodrive.operations.transfers"] = "lua/koodrive/operations/transfers.lua",
    ["koodrive.transfer.upload"] = "lua/koodrive/transfer/upload.lua",
    ["koodrive.transfer.download"] = "lua/koodrive/transfer/download.lua",
    ["koodrive.transfer.journal"] = "lua/koodrive/transfer/journal.lua",
    ["koodrive.transfer.engine"] = "lua/koodrive/transfer/engine.lua",
    ["koodrive.transfer.put_parts"] = "lua/koodrive/transfer/put_parts.lua",
    ["koodrive.transfer.digest"] = "lua/koodrive/transfer/digest.lua",
    ["koodrive.transfer.many"] = "lua/koodrive/transfer/many.lua",
    ["koodrive.transfer.ngx_parts"] = "lua/koodrive/transfer/ngx_parts.lua",
    ["koodrive.transfer.ngx_parts_io"] = "lua/koodrive/transfer/ngx_parts_io.lua",
    ["koodrive.operations.iotda"] = "lua/koodrive/operations/iotda.lua",
    ["koodrive.operations.jobs"] = "lua/koodrive/operations/jobs.lua",
    ["koodrive.operations.sessions"] = "lua/koodrive/operations/sessions.lua",
    ["koodrive.operations.shares"] = "lua/koodrive/operations/shares.lua",
    ["koodrive.operations.spaces"] = "lua/koodrive/operations/spaces.lua",
    ["koodrive.operations.usergroups"] = "lua/koodrive/operations/usergroups.lua",
    ["koodrive.operations.users"] = "lua/koodrive/operations/users.lua",
    ["koodrive.paging"] = "lua/koodrive/paging.lua",
    ["koodrive.scheduler"] = "lua/koodrive/scheduler.lua",
  },
  install = {
    bin = { koodrive = "bin/koodrive" },
  },
}

test = {
  type = "command",
  command = "make test",
}
