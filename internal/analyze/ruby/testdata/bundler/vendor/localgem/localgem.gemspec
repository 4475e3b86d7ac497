Gem::Specification.new do |s|
  s.name = "localgem"
  s.version = "0.1.0"
  s.summary = "A local gem"
  s.authors = ["drydock"]
  s.files = ["lib/localgem.rb"]
  s.add_dependency "tilt", ">= 2.0"
end
