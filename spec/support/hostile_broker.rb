# frozen_string_literal: true

require "openssl"
require "socket"

module ChoriaNats
  module TestSupport
    # A fake NATS broker on 127.0.0.1 that plays one HostileCases case on the
    # next connection it accepts after #arm, and forwards every other
    # connection to a real broker, so that a client can show it recovered.
    #
    # It also watches for plain text: whatever the client sends before a TLS
    # handshake must be a TLS record (first byte 0x16), on the cases'
    # connections and on forwarded ones alike; anything else, a CONNECT above
    # all, is recorded as a violation.
    class HostileBroker
      # Seconds the accept and forwarding loops wait before checking for stop.
      TICK = 0.05
      # Seconds a case may take in all before the broker hangs up.
      CASE_LIMIT = 2.0
      # Seconds a case waits after its last byte for the client to hang up: the
      # client has read it by then, and the next case need not wait longer.
      HOLD = 0.03
      # Seconds a TLS case waits for each step of the client: TLS, CONNECT and PING.
      STEP_TIMEOUT = 1.5
      # Bytes the client sent before TLS that a case keeps for reports.
      KEEP = 256
      # Bytes read or written at a time.
      IO_SIZE = 65_536
      # The first byte of a TLS handshake record, as a ClientHello starts.
      TLS_HANDSHAKE = 0x16

      # How the outcome of a case the broker failed to play starts.
      HARNESS_ERROR = "harness error"

      # What happened when a case was played.
      Played = Struct.new(:index, :bytes_sent, :client_bytes, :outcome, :seconds, keyword_init: true)

      # A client sent something other than TLS before a TLS handshake.
      Violation = Struct.new(:index, :text)

      # @param pki [PKI] the PKI whose broker certificate the TLS cases present
      # @param upstream [Array(String, Integer)] host and port of the real broker
      def initialize(pki, upstream)
        @upstream = upstream
        @tls = tls_context(pki)
        @server = TCPServer.new("127.0.0.1", 0)
        @mutex = Mutex.new
        @changed = ConditionVariable.new
        @armed = nil
        @current = nil
        @played = {}
        @violations = []
        @links = []
        @threads = []
        @stopped = false
      end

      # @return [Integer] the port clients dial
      def port
        @server.addr[1]
      end

      # @return [HostileBroker] self, accepting connections
      def start
        @threads << Thread.new { accept_loop }
        self
      end

      # @return [void] the next connection accepted plays +kase+
      def arm(kase)
        @mutex.synchronize do
          @armed = kase
          @current = kase.index
        end
      end

      # @return [void] the next connections are forwarded again
      def disarm
        @mutex.synchronize do
          @armed = nil
          @current = nil
        end
      end

      # @return [Integer] how many forwarded connections were cut, so that their clients reconnect
      def drop_forwarded!
        links = @mutex.synchronize { @links.dup }
        links.each { |link| link.each { |socket| socket.close unless socket.closed? } }
        links.size
      end

      # @return [Played, nil] the record of case +index+, waiting up to +timeout+ seconds for it
      def take_played(index, timeout)
        limit = monotonic + timeout
        @mutex.synchronize do
          until @played.key?(index)
            left = limit - monotonic
            break unless left.positive?

            @changed.wait(@mutex, left)
          end
          @played.delete(index)
        end
      end

      # @return [Array<Violation>] the violations seen since the last call
      def take_violations
        @mutex.synchronize { @violations.slice!(0..) }
      end

      # @return [void] stops accepting, cuts every connection and ends the threads (bounded)
      def stop
        @stopped = true
        @server.close unless @server.closed?
        drop_forwarded!
        threads = @mutex.synchronize { @threads.dup }
        threads.each { |thread| thread.join(CASE_LIMIT + 1) || thread.kill }
      end

      private

      def tls_context(pki)
        context = OpenSSL::SSL::SSLContext.new
        context.cert = OpenSSL::X509::Certificate.new(File.read(pki.broker_cert))
        context.key = OpenSSL::PKey.read(File.read(pki.broker_key))
        context.min_version = OpenSSL::SSL::TLS1_2_VERSION
        context.verify_mode = OpenSSL::SSL::VERIFY_NONE
        context.tap(&:freeze)
      end

      def monotonic
        Process.clock_gettime(Process::CLOCK_MONOTONIC)
      end

      def accept_loop
        until @stopped
          next unless (client = accept)

          serve(client, @mutex.synchronize { @armed.tap { @armed = nil } })
        end
      rescue IOError
        nil
      end

      # Plays +kase+ on +client+, or forwards it to the real broker, in a thread of its own. A method
      # of its own so the thread's block holds this connection, not the loop's variable, which the
      # next accept sets to nil before the thread may have read it.
      def serve(client, kase)
        spawn_thread { kase ? play(client, kase) : forward(client) }
      end

      # The next connection, or nil when none came within TICK or it went before it was accepted.
      def accept
        return nil unless @server.wait_readable(TICK)

        client = @server.accept_nonblock(exception: false)
        client == :wait_readable ? nil : client
      rescue SystemCallError
        nil
      end

      # Without it, Nagle's algorithm and delayed ACKs add 40 ms to each round trip a case forwards.
      def no_delay(socket)
        socket.setsockopt(Socket::IPPROTO_TCP, Socket::TCP_NODELAY, 1)
      end

      # Runs the block in a thread the broker forgets once it ends.
      def spawn_thread
        @mutex.synchronize do
          @threads.select!(&:alive?)
          @threads << Thread.new do
            yield
          rescue IOError, SystemCallError, OpenSSL::SSL::SSLError
            nil
          end
        end
      end

      def violation(index, where, bytes)
        text = "#{where}: the client sent #{bytes.byteslice(0, 48).inspect} in plain text, not a TLS ClientHello"
        @mutex.synchronize { @violations << Violation.new(index, text) }
      end

      # Whether +bytes+, sent before any TLS handshake, are what a TLS client sends.
      def tls_record?(bytes)
        bytes.empty? || (bytes.getbyte(0) == TLS_HANDSHAKE && !bytes.include?("CONNECT"))
      end

      def forward(client)
        no_delay(client)
        upstream = TCPSocket.new(*@upstream)
        no_delay(upstream)
        link = [client, upstream]
        @mutex.synchronize { @links << link }
        index = @mutex.synchronize { @current }
        first = true
        until @stopped
          readable, = IO.select(link, nil, nil, TICK)
          Array(readable).each do |from|
            data = from.read_nonblock(IO_SIZE)
            first = check_first(index, data) if from == client && first
            (from == client ? upstream : client).write(data)
          end
        end
      rescue IOError, SystemCallError
        nil
      ensure
        @mutex.synchronize { @links.delete(link) }
        [client, upstream].each { |socket| socket&.close unless socket&.closed? }
      end

      # Checks the client's first bytes on a forwarded connection; returns false, as they are checked.
      def check_first(index, data)
        violation(index, "a forwarded connection", data) unless tls_record?(data)
        false
      end

      def play(socket, kase)
        started = monotonic
        state = { sent: 0, client: +"".b, deadline: started + CASE_LIMIT }
        outcome = outcome_of(kase, socket, state)
        if state[:connect] || !tls_record?(state[:client])
          violation(kase.index, "case #{kase.index} (#{kase.family})", state[:client])
        end
        record(Played.new(index: kase.index, bytes_sent: state[:sent], client_bytes: state[:client].byteslice(0, KEEP),
                          outcome: outcome, seconds: monotonic - started))
      ensure
        socket.close unless socket.closed?
      end

      # How playing +kase+ ended: a phrase, the network error that ended it, or the harness's own error.
      def outcome_of(kase, socket, state)
        no_delay(socket)
        kase.phase == :tls ? play_tls(socket, kase, state) : play_plain(socket, kase, state)
      rescue IOError, SystemCallError, OpenSSL::SSL::SSLError => e
        "#{e.class}: #{e.message}"
      rescue StandardError => e
        "#{HARNESS_ERROR}: #{e.class}: #{e.message} at #{e.backtrace&.first}"
      end

      def record(played)
        @mutex.synchronize do
          @played[played.index] = played
          @changed.broadcast
        end
      end

      # The case's bytes are the first on the connection; nothing the client sends may be plain text.
      def play_plain(socket, kase, state)
        pump(socket, kase.chunks, state, plain: true)
      end

      # A proper INFO, a real TLS handshake, the client's CONNECT and PING, then the case inside TLS.
      def play_tls(socket, kase, state)
        info = HostileCases::Generator.proper_info(port, kase.info_extra || {})
        state[:sent] += socket.write(info)
        first = peek(socket, state)
        return "the client hung up before TLS" if first.nil?
        return "the client sent plain text instead of TLS" unless first.getbyte(0) == TLS_HANDSHAKE

        tls = OpenSSL::SSL::SSLSocket.new(socket, @tls)
        tls.sync_close = true
        return "TLS handshake not finished within #{STEP_TIMEOUT}s" unless handshake(tls, state)
        return "no CONNECT and PING within #{STEP_TIMEOUT}s" unless read_until_ping(tls, state)

        pump(tls, kase.chunks, state, plain: false)
      ensure
        tls&.close
      end

      # The first bytes the client sends, left unread for the TLS handshake; nil when it hangs up.
      def peek(socket, state)
        limit = [monotonic + STEP_TIMEOUT, state[:deadline]].min
        while monotonic < limit
          next unless socket.wait_readable(TICK)

          bytes = socket.recv_nonblock(KEEP, Socket::MSG_PEEK, exception: false)
          next if bytes == :wait_readable
          return nil if bytes.nil? || bytes.empty?

          state[:client] << bytes
          return bytes
        end
        nil
      end

      def handshake(tls, state)
        limit = [monotonic + STEP_TIMEOUT, state[:deadline]].min
        while monotonic < limit
          result = tls.accept_nonblock(exception: false)
          return true if result == tls

          result == :wait_writable ? tls.to_io.wait_writable(TICK) : tls.to_io.wait_readable(TICK)
        end
        false
      end

      def read_until_ping(tls, state)
        limit = [monotonic + STEP_TIMEOUT, state[:deadline]].min
        seen = +"".b
        while monotonic < limit && seen.bytesize < IO_SIZE
          data = tls.read_nonblock(IO_SIZE, exception: false)
          return false if data.nil?
          next tls.to_io.wait_readable(TICK) if data.is_a?(Symbol)

          seen << data
          return true if seen.include?("PING\r\n")
        end
        false
      end

      # Sends +chunks+ (after their delays) while reading what the client sends; ends when the
      # client hangs up, HOLD seconds after the last byte, or at the case's deadline.
      def pump(io, chunks, state, plain:)
        sending = Sending.new(chunks)
        loop do
          now = monotonic
          return "case time limit of #{CASE_LIMIT}s" if now >= state[:deadline]
          return "held #{HOLD}s after the last byte" if sending.done_since?(now, HOLD)

          write_some(io, sending, now, state)
          data = io.read_nonblock(IO_SIZE, exception: false)
          return "the client hung up" if data.nil?

          keep_plain(data, state) if plain && data.is_a?(String)
          wait(io, sending, now, state) unless data.is_a?(String)
        end
      end

      # Keeps the first bytes the client sent in plain text, and notes a CONNECT anywhere in them.
      def keep_plain(data, state)
        state[:client] << data.byteslice(0, KEEP) if state[:client].bytesize < KEEP
        state[:connect] ||= data.include?("CONNECT")
      end

      def write_some(io, sending, now, state)
        data = sending.next_bytes(now)
        return unless data

        written = io.write_nonblock(data, exception: false)
        return unless written.is_a?(Integer)

        sending.wrote(written, now)
        state[:sent] += written
      end

      def wait(io, sending, now, state)
        return if io.respond_to?(:pending) && io.pending.positive?

        timeout = [TICK, state[:deadline] - now, sending.wait_hint(now, HOLD)].min
        IO.select([io], sending.writing? ? [io] : nil, nil, [timeout, 0].max)
      end

      # The chunks of a case on their way out: which bytes are next, and when.
      class Sending
        # @param chunks [Array<HostileCases::Chunk>] what to send
        def initialize(chunks)
          @chunks = chunks.dup
          @data = nil
          @offset = 0
          @ready_at = nil
          @done_at = nil
        end

        # @return [String, nil] the bytes to write now, if any
        def next_bytes(now)
          take(now) if @data.nil?
          @data&.byteslice(@offset, IO_SIZE)
        end

        # @return [void] +count+ bytes went out
        def wrote(count, now)
          @offset += count
          return if @offset < @data.bytesize

          @data = nil
          @offset = 0
          @done_at = now if @chunks.empty?
        end

        # @return [Boolean] whether bytes are waiting to be written
        def writing?
          !@data.nil?
        end

        # @return [Boolean] whether everything went out at least +hold+ seconds ago
        def done_since?(now, hold)
          @done_at ||= now if @chunks.empty? && @data.nil?
          !@done_at.nil? && now - @done_at >= hold
        end

        # @return [Float] seconds until something is due: the next chunk or the end of the hold
        def wait_hint(now, hold)
          return @done_at + hold - now if @done_at
          return TICK if @data
          return 0 if @ready_at.nil?

          [@ready_at - now, 0].max
        end

        private

        def take(now)
          return if @chunks.empty?

          @ready_at ||= now + @chunks.first.delay
          return if now < @ready_at

          @data = @chunks.shift.data
          @ready_at = nil
          return unless @data.empty?

          @data = nil
          @done_at = now if @chunks.empty?
        end
      end
    end
  end
end
