# frozen_string_literal: true

require "socket"

module ChoriaNats
  module TestSupport
    # A TCP forwarder on 127.0.0.1 that can stop forwarding its current
    # connections without closing them: a link that dies silently, as when a
    # network drops packets. New connections are forwarded as usual, unless
    # a script says otherwise: an attacker on the path can answer in the
    # broker's place, or rewrite the INFO line that precedes TLS.
    class TcpForwarder
      # Seconds each pump waits on its sockets before checking for stop/freeze.
      TICK = 0.05

      def initialize(target_host, target_port)
        @target = [target_host, target_port]
        @server = TCPServer.new("127.0.0.1", 0)
        @links = []
        @threads = []
        @mutex = Mutex.new
        @stopped = false
        @scripts = []
        @info_rewrite = nil
      end

      # The next accepted connections get `bytes` in the broker's place and are closed, one
      # script each, in order; the ones after them are forwarded.
      def answer_next(*scripts)
        @mutex.synchronize { @scripts.concat(scripts) }
        self
      end

      # Every forwarded connection's first line from the broker (its INFO, before TLS) goes
      # through `block`, which returns the line to send instead.
      def rewrite_info(&block)
        @info_rewrite = block
        self
      end

      # Closes every current connection: the client sees its link drop.
      def cut_all!
        @mutex.synchronize do
          @links.flat_map { |link| link[:sockets] }.each { |s| s.close unless s.closed? }
          @links.clear
        end
      end

      # The port clients dial.
      def port
        @server.addr[1]
      end

      # Starts accepting connections.
      def start
        @threads << Thread.new { accept_loop }
        self
      end

      # Stops forwarding on every current connection, leaving them open.
      def freeze_existing!
        @mutex.synchronize { @links.each { |link| link[:frozen] = true } }
      end

      # Closes everything and stops the threads (bounded).
      def stop
        @stopped = true
        @server.close unless @server.closed?
        @threads.each { |thread| thread.join(2) || thread.kill }
        @mutex.synchronize { @links.flat_map { |link| link[:sockets] }.each { |s| s.close unless s.closed? } }
      end

      private

      def accept_loop
        until @stopped
          ready = @server.wait_readable(TICK)
          next unless ready

          client = @server.accept_nonblock(exception: false)
          next if client == :wait_readable

          script = @mutex.synchronize { @scripts.shift }
          next answer(client, script) if script

          link = { sockets: [client, TCPSocket.new(*@target)], frozen: false, info: @info_rewrite }
          @mutex.synchronize { @links << link }
          @threads << Thread.new { pump(link) }
        end
      rescue IOError, SystemCallError
        nil
      end

      def answer(client, bytes)
        client.write(bytes)
        client.wait_readable(TICK)
      rescue IOError, SystemCallError
        nil
      ensure
        client.close
      end

      def pump(link)
        client, upstream = link[:sockets]
        rewrite_first_line(link) if link[:info]
        until @stopped
          next sleep(TICK) if link[:frozen]

          readable, = IO.select([client, upstream], nil, nil, TICK)
          Array(readable).each do |from|
            to = from == client ? upstream : client
            to.write(from.read_nonblock(65_536))
          end
        end
      rescue IOError, SystemCallError
        link[:sockets].each { |s| s.close unless s.closed? }
      end

      # The INFO arrives alone: the broker says nothing more until the client answers.
      def rewrite_first_line(link)
        client, upstream = link[:sockets]
        line = upstream.gets("\r\n")
        client.write(link[:info].call(line)) if line
      end
    end
  end
end
