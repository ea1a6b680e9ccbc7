# frozen_string_literal: true

require "socket"

module ChoriaNats
  module TestSupport
    # A TCP forwarder on 127.0.0.1 that can stop forwarding its current
    # connections without closing them: a link that dies silently, as when a
    # network drops packets. New connections are forwarded as usual.
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

          link = { sockets: [client, TCPSocket.new(*@target)], frozen: false }
          @mutex.synchronize { @links << link }
          @threads << Thread.new { pump(link) }
        end
      rescue IOError, SystemCallError
        nil
      end

      def pump(link)
        client, upstream = link[:sockets]
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
    end
  end
end
