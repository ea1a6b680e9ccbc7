# frozen_string_literal: true

require "json"

module ChoriaNats
  module TestSupport
    # The cases a HostileBroker plays: NATS protocol lines drawn from a small
    # grammar, then mutated, from a Random seeded by (seed, index) alone, so
    # that any one case can be played again by itself.
    #
    # A case's phase says where its bytes go. :plain cases are the first bytes
    # on the TCP connection, where the broker's INFO belongs. :tls cases follow
    # a well-formed INFO with tls_required, a TLS handshake with a certificate
    # the client trusts (a compromised broker) and the client's CONNECT and PING.
    # Every host a case announces is on loopback or does not parse, so that a
    # connector which follows an announcement still sends nothing off the machine.
    module HostileCases
      # Family => phase; case +index+ belongs to family +index+ modulo their number.
      FAMILIES = {
        plain_info: :plain, plain_err: :plain, plain_op: :plain, plain_junk: :plain,
        tls_info: :tls, tls_err: :tls, tls_msg: :tls, tls_junk: :tls
      }.freeze
      # Seconds of delays a dripped case spends at most; the rest goes at once.
      DRIP_BUDGET = 0.3
      # Bytes at the start of a case that mutations touch: enough for every line
      # but the huge ones, whose size is what they test.
      MUTABLE_PREFIX = 65_536
      # One megabyte and ten, for the big lines.
      MIB = 1_048_576

      # One case: +chunks+ to send in order, each +delay+ seconds after the one before.
      Case = Struct.new(:seed, :index, :family, :phase, :variant, :mutations, :chunks, :info_extra,
                        keyword_init: true) do
        # @return [Integer] the bytes the case sends after its INFO (TLS cases) or in all (plain ones)
        def bytesize
          chunks.sum { |chunk| chunk.data.bytesize }
        end

        # @return [String] "family/variant", with the mutations applied, for reports
        def label
          mutations.empty? ? "#{family}/#{variant}" : "#{family}/#{variant} +#{mutations.join('+')}"
        end
      end

      # Bytes to send and the seconds to wait before sending them.
      Chunk = Struct.new(:data, :delay)

      # @return [Case] case +index+ of +seed+, for a broker on +port+ (announced URLs name it)
      def self.build(seed, index, port:)
        raise ArgumentError, "seed and index must be 0 or more" if seed.negative? || index.negative?

        random = Random.new((Integer(seed) << 40) | Integer(index))
        family = FAMILIES.keys[index % FAMILIES.size]
        Generator.new(random, port).build(family).tap do |kase|
          kase.seed = seed
          kase.index = index
          kase.family = family
          kase.phase = FAMILIES.fetch(family)
        end
      end

      # @return [Symbol] the family of case +index+
      def self.family_of(index)
        FAMILIES.keys[index % FAMILIES.size]
      end

      # Draws one case from the grammar: lines, then mutations, then chunking.
      class Generator
        # URL schemes of announced servers: WebSocket ones would be dialled without TLS.
        SCHEMES = ["ws://", "wss://", "WS://", "nats://", "tls://", "http://", "https://", "", "junk://",
                   "nats+ws://"].freeze
        # Numbers that break parsers: signs, word-size edges, too many digits.
        EVIL_NUMBERS = [0, -1, 1, 2**31, 2**32, (2**63) - 1, 2**63, (2**64) - 1, 2**64, 10**30].freeze
        # Lines a broker may send: PING, PONG, +OK and their near misses.
        SIMPLE_OPS = ["PING\r\n", "PONG\r\n", "+OK\r\n", "PING\r\n" * 3, "PING", "PONG", "+OK", "ping\r\n",
                      "PINGPONG\r\n", "PONG extra\r\n", "+OKAY\r\n", "INFO\r\n", "INFO{}\r\n", "INFO \r\n",
                      "CONNECT {}\r\n", "SUB x 1\r\n", "PUB x 1\r\nx\r\n", "\r\n", "MSG\r\n", "HMSG\r\n"].freeze
        # -ERR lines: bare, empty, the ones nats-server sends, and malformed ones.
        ERRORS = ["-ERR\r\n", "-ERR \r\n", "-ERR\n", "-ERR", "-ERR'\r\n", "-ERR ''\r\n", "-ERRX\r\n",
                  "-ERR 'Authorization Violation'\r\n", "-ERR 'Authentication Timeout'\r\n",
                  "-ERR 'Stale Connection'\r\n", "-ERR 'Maximum Connections Exceeded'\r\n",
                  "-ERR 'Slow Consumer'\r\n", "-ERR 'Maximum Payload Violation'\r\n",
                  "-ERR 'Unknown Protocol Operation'\r\n", "-ERR 'Secure Connection - TLS Required'\r\n",
                  "-ERR 'Permissions Violation for Subscription to \"hostile.probe\"'\r\n",
                  "-ERR 'Permissions Violation for Publish to \"hostile.probe\"'\r\n",
                  "-ERR 'User Authentication Expired'\r\n", "-ERR 'Account Authentication Expired'\r\n",
                  "-ERR Authorization Violation\r\n", "-ERR \xFF\xFE\r\n".b, "-ERR '\r\n"].freeze
        # Header blocks of HMSG, true ones and lying ones.
        HEADERS = ["NATS/1.0\r\n\r\n", "NATS/1.0\r\nA: b\r\n\r\n", "NATS/1.0 503\r\n\r\n",
                   "NATS/1.0 408 Request Timeout\r\n\r\n", "NATS/1.0 999 No\r\n\r\n", "NATS/1.0 abc\r\n\r\n",
                   "NATS/2.0\r\n\r\n", "NATS/1.0\r\nno colon\r\n\r\n", "NATS/1.0\r\n\xFF: \xFE\r\n\r\n".b,
                   "NATS/1.0\r\n: empty\r\n\r\n", "NATS/1.0\r\nA: b\r\n  folded\r\n\r\n", "", "\r\n",
                   "NATS/1.0", "NATS/1.0\r\nA:b\r\nA:c\r\nNats-Msg-Id: 1\r\n\r\n"].freeze
        # Payload sizes of MSG and HMSG.
        PAYLOAD_SIZES = [0, 1, 5, 100, 4096, 65_536, 65_537, MIB, 2 * MIB].freeze
        # Mutations, by name.
        MUTATIONS = %i[flip insert drop_crlf lf_only truncate duplicate_line number insert_err insert_crlf].freeze

        # @param random [Random] the case's own Random
        # @param port [Integer] the hostile broker's port, for announced URLs that lead back to it
        def initialize(random, port)
          @random = random
          @port = port
        end

        # @return [Case] a case of +family+ without seed, index, family or phase
        def build(family)
          variant, stream, info_extra = send(family)
          stream = stream.b
          mutations = mutate!(stream)
          Case.new(variant: variant, mutations: mutations, chunks: chunk(stream, variant), info_extra: info_extra)
        end

        # The INFO a TLS case sends before the handshake: well formed, tls_required, plus +extra+.
        def self.proper_info(port, extra = {})
          fields = { "server_id" => "NHOSTILE", "server_name" => "hostile", "version" => "2.10.7", "proto" => 1,
                     "go" => "go1.22.1", "host" => "127.0.0.1", "port" => port, "headers" => true,
                     "max_payload" => MIB, "client_id" => 7, "client_ip" => "127.0.0.1",
                     "tls_required" => true, "tls_verify" => true }
          "INFO #{JSON.generate(fields.merge(extra))}\r\n"
        end

        private

        def pick(list)
          list[@random.rand(list.size)]
        end

        def chance(probability)
          @random.rand < probability
        end

        # The families: each returns [variant, bytes, extra fields of the TLS INFO].

        def plain_info
          variant, line = info_line(tls: pick([true, false, nil]))
          [variant, line + (chance(0.3) ? pick(SIMPLE_OPS) : "")]
        end

        def plain_err
          line = pick(ERRORS)
          [err_variant(line), line + (chance(0.3) ? self.class.proper_info(@port) : "")]
        end

        def plain_op
          variant, line = pick(%i[simple msg hmsg]).then { |kind| [kind, op(kind)] }
          [variant, line + (chance(0.5) ? self.class.proper_info(@port) : "")]
        end

        def plain_junk
          junk
        end

        def tls_info
          extra = chance(0.5) ? proper_extra : {}
          variant, line = info_line(tls: pick([true, false]))
          lines = Array.new(@random.rand(1..3)) { info_line(tls: true).last }
          lines[0] = line
          variant = "#{variant}, first INFO #{extra.keys.join('+')}" unless extra.empty?
          [variant, pong_prefix + lines.join + (chance(0.3) ? "PING\r\n" : ""), extra]
        end

        def tls_err
          lines = Array.new(@random.rand(1..3)) { pick(ERRORS) }
          [err_variant(lines.first), pong_prefix + lines.join + (chance(0.3) ? "PING\r\n" : "")]
        end

        def tls_msg
          kind = pick(%i[msg msg hmsg hmsg mixed])
          body = kind == :mixed ? Array.new(@random.rand(2..20)) { op(pick(%i[simple msg hmsg])) }.join : op(kind)
          [kind, pong_prefix + body]
        end

        def tls_junk
          variant, bytes = junk
          [variant, pong_prefix + bytes]
        end

        # Most TLS cases let the connect succeed first, so the hostile lines reach the running connection.
        def pong_prefix
          chance(0.7) ? "PONG\r\n" : ""
        end

        def err_variant(line)
          case line
          when /\A-ERR\r?\n?\z/ then :bare_err
          when /\A-ERR '[^']+'\r\n\z/ then :quoted_err
          else :malformed_err
          end
        end

        # INFO lines: [variant, line].
        def info_line(tls:)
          variant = pick(%i[connect_urls connect_urls huge_json invalid_json wrong_types huge_max_payload
                            no_crlf lf_only lame_duck not_json_object])
          fields = info_fields(tls)
          line = case variant
                 when :connect_urls then info(fields.merge("connect_urls" => connect_urls))
                 when :huge_json then huge_info(fields)
                 when :invalid_json then "INFO #{invalid_json}\r\n"
                 when :wrong_types then info(fields.merge(wrong_type))
                 when :huge_max_payload then info(fields.merge("max_payload" => pick(EVIL_NUMBERS + ["big", 1.5])))
                 when :no_crlf then info(fields).chomp("\r\n")
                 when :lf_only then info(fields).sub("\r\n", "\n")
                 when :lame_duck then info(fields.merge("ldm" => true, "connect_urls" => connect_urls))
                 else "INFO #{pick(['[]', 'null', '"x"', '1', 'true', '{}'])}\r\n"
                 end
          [variant, line]
        end

        def info_fields(tls)
          fields = { "server_id" => "NHOSTILE#{@random.rand(1000)}", "version" => "2.10.7", "proto" => 1,
                     "host" => "127.0.0.1", "port" => @port, "headers" => true, "max_payload" => MIB }
          tls.nil? ? fields : fields.merge("tls_required" => tls)
        end

        def info(fields)
          "INFO #{JSON.generate(fields)}\r\n"
        end

        # Well-formed extras for the INFO before a TLS handshake: announced servers, big limits.
        def proper_extra
          case @random.rand(3)
          when 0 then { "connect_urls" => connect_urls }
          when 1 then { "max_payload" => pick([0, 1, (2**63) - 1, (2**64) - 1]) }
          else { "ldm" => true, "connect_urls" => connect_urls }
          end
        end

        def connect_urls
          Array.new(@random.rand(1..4)) { "#{pick(SCHEMES)}#{announced_host}" }
        end

        # Hosts on loopback (the broker itself, under other names and schemes), empty ones, or ones that do
        # not parse: never a name that would need a DNS server.
        def announced_host
          pick(["127.0.0.1:#{@port}", "localhost:#{@port}", "127.0.0.2:#{@port}", "[::1]:#{@port}", "127.0.0.1:1",
                "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:#{@port}/x?y=1#z", "user:pass@127.0.0.1:#{@port}",
                "bad host:#{@port}", "[zz]:1", "", ":#{@port}", "127.0.0.1:-1", "127.0.0.1:#{@port}:#{@port}"])
        end

        # An INFO of megabytes: a long name, or a long list of announced servers.
        def huge_info(fields)
          size = pick([70_000, MIB, 4 * MIB])
          filler = if chance(0.5)
                     %("server_name":"#{'A' * size}")
                   else
                     %("connect_urls":[#{(%("127.0.0.2:#{@port}",) * (size / 20)).chomp(',')}])
                   end
          "INFO #{JSON.generate(fields).chomp('}')},#{filler}}\r\n"
        end

        def invalid_json
          pick(["{", "{\"server_id\":", "{\"port\":}", "{'a':1}", "{\"a\":1}}", "\xFF\xFE".b, "[" * 10_000,
                "{\"a\":#{'[' * 200}", "{\"max_payload\":1e999}", "{\"port\":99999999999999999999999}",
                "#{JSON.generate(info_fields(true))} trailing", "{\"x\":\"\\ud800\"}"])
        end

        def wrong_type
          pick([{ "port" => -1 }, { "port" => "x" }, { "max_payload" => "big" }, { "max_payload" => -1 },
                { "tls_required" => "yes" }, { "tls_required" => nil }, { "connect_urls" => "ws://127.0.0.1:1" },
                { "connect_urls" => [1, nil] }, { "connect_urls" => { "a" => 1 } }, { "headers" => "yes" },
                { "proto" => -1 }, { "ldm" => "x" }, { "nonce" => 5 }, { "server_id" => 1 }, { "auth_required" => 2 }])
        end

        # Protocol operations of +kind+ (:simple, :msg or :hmsg), often lying about their sizes.
        def op(kind)
          case kind
          when :simple then chance(0.4) ? pick(ERRORS) : pick(SIMPLE_OPS)
          when :msg then msg
          else hmsg
          end
        end

        def msg
          body = payload
          args = [subject, sid, (pick(["_INBOX.r", "", "r e p"]) if chance(0.3)), size_lie(body.bytesize)]
          "MSG #{args.compact.join(' ')}\r\n".b + body + tail
        end

        def hmsg
          headers = pick(HEADERS).b
          body = payload(small: true)
          total = headers.bytesize + body.bytesize
          header_len = chance(0.5) ? headers.bytesize : size_lie(headers.bytesize)
          args = [subject, sid, (pick(["_INBOX.r", "r e p"]) if chance(0.3)), header_len, size_lie(total)]
          "HMSG #{args.compact.join(' ')}\r\n".b + headers + body + tail
        end

        # Subjects, including the probe's, which the client is subscribed to.
        def subject
          pick(["hostile.probe", "x", "a.b.c", "_INBOX.abc", "sub\tject", "\xFF\xFE".b, "a" * 1000, "*", ">"])
        end

        # Subscription ids: 1 is the probe's subscription.
        def sid
          pick(%w[1 1 1 2 0 -1 18446744073709551615 18446744073709551616 x 1.5])
        end

        def payload(small: false)
          size = pick(small ? PAYLOAD_SIZES.first(6) : PAYLOAD_SIZES)
          @random.bytes(size)
        end

        # The true size half of the time, else a lie.
        def size_lie(actual)
          return actual.to_s if chance(0.5)

          pick([actual + 1, actual - 1, actual + 1000, -actual, "abc", "0x10", "+#{actual}", "#{actual}.0",
                *EVIL_NUMBERS]).to_s
        end

        def tail
          pick(["\r\n", "\r\n", "\r\n", "", "\n", "\r\nPING\r\n", "XYZ\r\n", "\r\n-ERR\r\n"])
        end

        # Junk: floods, lines without ends, a 10 MB line, random bytes, a slow drip, nothing.
        def junk
          variant = pick(%i[ping_flood no_crlf ten_mb_line random_bytes slow_drip nothing blank_lines cr_only
                            mixed_ops])
          [variant, junk_bytes(variant)]
        end

        def junk_bytes(variant)
          case variant
          when :ping_flood then "PING\r\n" * pick([1000, 10_000, 100_000])
          when :no_crlf then pick([info(info_fields(true)).chomp, "-ERR 'x'", "MSG a 1 5", "PING", "A" * 70_000])
          when :ten_mb_line then ten_mb_line
          when :random_bytes then @random.bytes(pick([1, 7, 100, 4096, 65_536]))
          when :slow_drip then Array.new(@random.rand(1..5)) { op(pick(%i[simple msg])) }.join.byteslice(0, 4096)
          when :nothing then ""
          when :blank_lines then pick(["\r\n", "\n", "\r", " \r\n"]) * pick([1, 1000, 100_000])
          when :cr_only then pick(["PING\r", "PING\n", "PONG\n\r"]) * pick([10, 10_000])
          else Array.new(@random.rand(5..50)) { op(pick(%i[simple simple msg hmsg])) }.join
          end
        end

        def ten_mb_line
          "#{pick(['', 'INFO ', '-ERR ', 'MSG ', 'PING', '+OK '])}#{'A' * (10 * MIB)}#{pick(['', "\r\n"])}"
        end

        # Applies 1 to 3 mutations to half of the cases; returns their names.
        def mutate!(stream)
          return [] if stream.empty? || chance(0.5)

          Array.new(@random.rand(1..3)) { pick(MUTATIONS).tap { |name| mutation(name, stream) } }
        end

        def mutation(name, stream)
          at = @random.rand([stream.bytesize, MUTABLE_PREFIX].min + 1)
          case name
          when :flip then stream.setbyte([at, stream.bytesize - 1].min, @random.rand(256))
          when :insert then stream.insert(at, @random.bytes(@random.rand(1..16)))
          when :drop_crlf, :lf_only then replace_crlf(stream, name == :lf_only ? "\n" : "")
          when :truncate then stream.slice!([at, 1].max..)
          when :duplicate_line then duplicate_line(stream)
          when :number then replace_number(stream)
          when :insert_err then stream.insert(line_start(stream, at), "-ERR\r\n".b)
          else stream.insert(at, "\r\n".b)
          end
        end

        def crlf_offsets(stream)
          offsets = []
          at = 0
          while (found = stream.index("\r\n".b, at)) && found < MUTABLE_PREFIX
            offsets << found
            at = found + 2
          end
          offsets
        end

        def replace_crlf(stream, with)
          offsets = crlf_offsets(stream)
          stream[pick(offsets), 2] = with.b unless offsets.empty?
        end

        def line_start(stream, at)
          before = stream.rindex("\r\n".b, at)
          before ? before + 2 : 0
        end

        def duplicate_line(stream)
          offsets = crlf_offsets(stream)
          return if offsets.empty?

          finish = pick(offsets) + 2
          start = line_start(stream, [finish - 3, 0].max)
          stream.insert(finish, stream.byteslice(start, finish - start))
        end

        def replace_number(stream)
          prefix = stream.byteslice(0, MUTABLE_PREFIX)
          spans = []
          prefix.scan(/\d+/n) { spans << Regexp.last_match.offset(0) }
          return if spans.empty?

          from, to = pick(spans)
          stream[from, to - from] = pick(EVIL_NUMBERS).to_s.b
        end

        # One chunk, a few chunks at once, or a drip of small chunks (for :slow_drip, always).
        def chunk(stream, variant)
          style = variant == :slow_drip ? :drip : pick(%i[whole whole split drip])
          return [Chunk.new(stream, 0)] if style == :whole || stream.bytesize < 2

          style == :split ? split(stream) : drip(stream)
        end

        def split(stream)
          cuts = Array.new(@random.rand(2..8)) { @random.rand(1...stream.bytesize) }.uniq.sort
          [0, *cuts].zip([*cuts, stream.bytesize]).map { |from, to| Chunk.new(stream.byteslice(from, to - from), 0) }
        end

        def drip(stream)
          chunks = []
          at = 0
          budget = DRIP_BUDGET
          while at < stream.bytesize && budget.positive?
            size = @random.rand(1..16)
            delay = @random.rand(1..10) / 1000.0
            budget -= delay
            chunks << Chunk.new(stream.byteslice(at, size), delay)
            at += size
          end
          chunks << Chunk.new(stream.byteslice(at..), 0) if at < stream.bytesize
          chunks
        end
      end
    end
  end
end
