# frozen_string_literal: true

require "spec_helper"
require_relative "../../rakelib/roots"

RSpec.describe "Roots::Builder.sources" do
  it "takes every suite signed by Debian's keyring, and only experimental without its Valid-Until" do
    Roots::MATRIX.each do |row|
      lines = Roots::Builder.sources(row).lines
      expect(lines).to all(include("signed-by=#{Roots::KEYRING}"))
      expect(lines.first).to eq("deb [signed-by=#{Roots::KEYRING}] #{Roots::MIRROR} #{row[:suite]} main\n")
      expect(lines.grep(/check-valid-until/)).to eq(lines.grep(/ experimental /))
      expect(lines.size).to eq(row[:experimental] ? 2 : 1)
    end
    expect(Roots::MATRIX.count { |row| row[:experimental] }).to be_positive
  end
end
